/* DepthwiseConv2D weight gradient + RCT update element by element (C order = device order), no buffer. */
#include "rct.h"

int32_t rct_depthwise_conv2d_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                             const int16_t *dz, int32_t dz_exp,
                                             const rct_conv_shape_t *sh, int32_t lr_shift,
                                             int32_t stochastic, rct_prng_t *r)
{
    const int32_t shift = w->exp + lr_shift - (x_exp + dz_exp);
    const int32_t bits = w->bits;
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    int64_t abs_sum = 0;
    int32_t kh, kw, ci, m, k = 0;
    for (kh = 0; kh < sh->k_h; kh++)
        for (kw = 0; kw < sh->k_w; kw++)
            for (ci = 0; ci < sh->in_c; ci++)
                for (m = 0; m < sh->depth_multiplier; m++, k++) {
                    const int32_t g = (int32_t)rct_sat64(
                        rct_depthwise_conv2d_weight_grad(x, dz, sh, kh, kw, ci, m), 32);
                    abs_sum += g < 0 ? -(int64_t)g : g;
                    w->data[k] = (int16_t)rct_update_elem(w->data[k], g, shift, bits, stochastic,
                                                          rct_prng_u16(base, c0, k));
                }
    if (stochastic && shift >= 1) r->counter = rct_prng_after(c0, w->size);
    return rct_gavg_q16(abs_sum, w->size, shift);
}
