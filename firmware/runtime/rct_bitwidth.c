/* Bit changes of a trainable tensor, in place (docs/numerics.md "Bit changes of a weight tensor").
 * Crossing 8 <-> 9 bits repacks the container: int8 -> int16 walks down from the end (element i
 * moves to bytes 2i..2i+1 >= i, never over an unread int8), int16 -> int8 walks up (byte i is
 * written after int16 element i, at bytes 2i.., was read). Storage is declared int16_t. */
#include "rct.h"

static uint32_t count_at_clip(const rct_tensor_t *t)
{
    const int32_t hi = (1 << (t->bits - 1)) - 1, lo = -hi - 1;
    uint32_t n = 0u;
    int32_t i;
    for (i = 0; i < t->size; i++) {
        const int32_t q = rct_wload(t->data, t->bits, i);
        if (q <= lo || q >= hi) n++;
    }
    return n;
}

uint32_t rct_saturated_count(const rct_tensor_t *t)
{
    return count_at_clip(t);
}

/* New bitwidth `bits_new` (old t->bits), values scaled by 2^mul_shift (0 or 1), container
 * repacked as needed; used by the two exact changes. */
static void widen(rct_tensor_t *t, int32_t mul_shift)
{
    const int32_t bits_new = t->bits + 1;
    int32_t i;
    if (t->bits <= 8 && bits_new > 8) {
        int8_t *src = (int8_t *)t->data;
        int16_t *dst = (int16_t *)t->data;
        for (i = t->size - 1; i >= 0; i--) {
            const int32_t q = src[i];
            dst[i] = (int16_t)(q * (1 << mul_shift));
        }
    } else if (mul_shift) {
        for (i = 0; i < t->size; i++)
            rct_wstore(t->data, t->bits, i, rct_wload(t->data, t->bits, i) * 2);
    }
    t->bits = (uint8_t)bits_new;
}

void rct_add_low_bit(rct_tensor_t *t)
{
    widen(t, 1);
    t->exp = (int16_t)(t->exp - 1);
}

void rct_add_high_bit(rct_tensor_t *t)
{
    widen(t, 0);
}

void rct_drop_low_bit(rct_tensor_t *t, rct_prng_t *r)
{
    const int32_t bits_old = t->bits, bits_new = t->bits - 1;
    int32_t i;
    for (i = 0; i < t->size; i++) { /* C order, one draw per element */
        const int64_t q = rct_sat64(rct_round_stochastic64(rct_wload(t->data, bits_old, i), 1, r),
                                    bits_new);
        rct_wstore(t->data, bits_new, i, (int32_t)q);
    }
    t->bits = (uint8_t)bits_new;
    t->exp = (int16_t)(t->exp + 1);
}
