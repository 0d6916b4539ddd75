/* The RCT update shared by all parametric tensors: q <- sat(q + SR(-g / 2^sh)); returns Gavg. */
#include "rct.h"

int32_t rct_update(rct_tensor_t *t, const int32_t *g, int32_t g_exp, int32_t lr_shift,
                   int32_t stochastic, rct_prng_t *r)
{
    const int32_t sh = t->exp + lr_shift - g_exp;
    const int32_t bits = t->bits;
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    int64_t abs_sum = 0;
    int32_t k;
    for (k = 0; k < t->size; k++) { /* device order: element k takes uniform k of the block */
        abs_sum += g[k] < 0 ? -(int64_t)g[k] : g[k];
        t->data[k] = (int16_t)rct_update_elem(t->data[k], g[k], sh, bits, stochastic,
                                              rct_prng_u16(base, c0, k));
    }
    if (stochastic && sh >= 1) r->counter = rct_prng_after(c0, t->size);
    return rct_gavg_q16(abs_sum, t->size, sh);
}
