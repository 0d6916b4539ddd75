/* Dense weight gradient + RCT update in one pass, no gradient buffer (batch-1 RAM budget).
 * Element by element in C order: exactly rct_dense_backward_weight into zeros, then rct_update. */
#include "rct.h"

int32_t rct_dense_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                  const int16_t *dz, int32_t dz_exp, int32_t n, int32_t in,
                                  int32_t out, int32_t lr_shift, int32_t stochastic,
                                  rct_prng_t *r)
{
    const int32_t sh = w->exp + lr_shift - (x_exp + dz_exp);
    const int32_t bits = w->bits;
    int64_t abs_sum = 0;
    int32_t i, o, s;
    for (i = 0; i < in; i++)
        for (o = 0; o < out; o++) {
            const int32_t k = i * out + o;
            int64_t a = 0;
            int32_t g;
            for (s = 0; s < n; s++) a += (int64_t)x[s * in + i] * dz[s * out + o];
            g = (int32_t)rct_sat64(a, 32);
            abs_sum += g < 0 ? -(int64_t)g : g;
            rct_wstore(w->data, bits, k,
                       rct_update_elem(rct_wload(w->data, bits, k), g, sh, bits, stochastic, r));
        }
    return rct_gavg_q16(abs_sum, w->size, sh);
}
