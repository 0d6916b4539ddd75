/* Bit changes of a trainable tensor, in place (docs/numerics.md "Bit changes of a weight tensor").
 * Trainable tensors are int16_t whatever their bitwidth, so no change repacks a container. */
#include "rct.h"

uint32_t rct_saturated_count(const rct_tensor_t *t)
{
    const int32_t hi = (1 << (t->bits - 1)) - 1, lo = -hi - 1;
    uint32_t n = 0u;
    int32_t i;
    for (i = 0; i < t->size; i++) {
        const int32_t q = t->data[i];
        if (q <= lo || q >= hi) n++;
    }
    return n;
}

void rct_add_low_bit(rct_tensor_t *t)
{
    int32_t i;
    for (i = 0; i < t->size; i++) t->data[i] = (int16_t)(t->data[i] * 2);
    t->bits = (uint8_t)(t->bits + 1);
    t->exp = (int16_t)(t->exp - 1);
}

void rct_add_high_bit(rct_tensor_t *t)
{
    t->bits = (uint8_t)(t->bits + 1);
}

void rct_drop_low_bit(rct_tensor_t *t, rct_prng_t *r)
{
    const int32_t bits_new = t->bits - 1;
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    int32_t i;
    for (i = 0; i < t->size; i++) { /* device order, one uniform per element */
        const int64_t q = rct_sat64(rct_sr64(t->data[i], 1, rct_prng_u16(base, c0, i)), bits_new);
        t->data[i] = (int16_t)q;
    }
    r->counter = rct_prng_after(c0, t->size);
    t->bits = (uint8_t)bits_new;
    t->exp = (int16_t)(t->exp + 1);
}
