/* Bias gradient + RCT update in one pass, no gradient buffer. */
#include "rct.h"

int32_t rct_bias_backward_update(rct_tensor_t *b, const int16_t *dz, int32_t dz_exp,
                                 int32_t rows, int32_t channels, int32_t lr_shift,
                                 int32_t stochastic, rct_prng_t *r)
{
    const int32_t sh = b->exp + lr_shift - dz_exp;
    const int32_t bits = b->bits;
    int64_t abs_sum = 0;
    int32_t c, k;
    for (c = 0; c < channels; c++) {
        int64_t a = 0;
        int32_t g;
        for (k = 0; k < rows; k++) a += dz[k * channels + c];
        g = (int32_t)rct_sat64(a, 32);
        abs_sum += g < 0 ? -(int64_t)g : g;
        rct_wstore(b->data, bits, c,
                   rct_update_elem(rct_wload(b->data, bits, c), g, sh, bits, stochastic, r));
    }
    return rct_gavg_q16(abs_sum, b->size, sh);
}
