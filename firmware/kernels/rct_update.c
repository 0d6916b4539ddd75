/* The RCT update shared by all parametric tensors: q <- sat(q + SR(-g / 2^sh)); returns Gavg. */
#include "rct.h"

int32_t rct_update(rct_tensor_t *t, const int32_t *g, int32_t g_exp, int32_t lr_shift,
                   int32_t stochastic, rct_prng_t *r)
{
    const int32_t sh = t->exp + lr_shift - g_exp;
    const int32_t bits = t->bits;
    int64_t abs_sum = 0;
    int32_t k;
    for (k = 0; k < t->size; k++) { /* C order: one draw per element when sh >= 1 */
        abs_sum += g[k] < 0 ? -(int64_t)g[k] : g[k];
        rct_wstore(t->data, bits, k,
                   rct_update_elem(rct_wload(t->data, bits, k), g[k], sh, bits, stochastic, r));
    }
    return rct_gavg_q16(abs_sum, t->size, sh);
}
