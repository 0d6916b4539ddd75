/* DepthwiseConv2D weight gradient + RCT update (device order [kh][kw][ci][m] = per tap the
 * output channels oc = ci * dm + m), no gradient buffer: exactly the buffered backward-weight
 * into zeros followed by rct_update. Per tap, four consecutive output channels share one pass
 * over the valid output positions (dz[.., oc..oc+3] contiguous; x one channel when dm % 4 == 0,
 * four when dm == 1), summed in int32 under RCT_GRAD32_MAX_TERMS (docs/numerics.md), then
 * rct_update_block; other blocks take the exact int64 helper per weight. */
#include "rct.h"

/* g[0..3] += over a row of output positions: x_j = xp[dx_j] (dx = 0 0 0 0 or 0 1 2 3). */
static RCT_NOINLINE void row4(const int8_t *xp, int32_t xstep, int32_t xinc,
                              const int16_t *dz, int32_t OC, int32_t len, int32_t *g)
{
    int32_t g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
    int32_t j;
    for (j = 0; j < len; j++) {
        const int8_t *xj = xp + j * xstep;
        const int16_t *dp = dz + j * OC;
        const int32_t x0 = xj[0], x1 = xj[xinc], x2 = xj[2 * xinc], x3 = xj[3 * xinc];
        g0 += x0 * dp[0];
        g1 += x1 * dp[1];
        g2 += x2 * dp[2];
        g3 += x3 * dp[3];
    }
    g[0] = g0; g[1] = g1; g[2] = g2; g[3] = g3;
}

int32_t rct_depthwise_conv2d_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                             const int16_t *dz, int32_t dz_exp,
                                             const rct_conv_shape_t *sh, int32_t lr_shift,
                                             int32_t stochastic, rct_prng_t *r)
{
    const int32_t shift = w->exp + lr_shift - (x_exp + dz_exp);
    const int32_t C = sh->in_c, DM = sh->depth_multiplier, OC = C * DM;
    const int64_t terms = (int64_t)sh->n * sh->out_h * sh->out_w;
    const int32_t use32 = terms <= RCT_GRAD32_MAX_TERMS && (DM == 1 || DM % 4 == 0);
    const int32_t oc4 = use32 ? OC - OC % 4 : 0;
    const int32_t xinc = DM == 1 ? 1 : 0; /* x of the block's four channels */
    rct_update_cfg_t u;
    int64_t abs_sum = 0;
    int32_t kh, kw, oc, k = 0;
    rct_update_cfg(&u, w, shift, stochastic, r,
                   terms <= RCT_GRAD32_MAX_TERMS ? terms * ((int64_t)1 << 22) : -1);
    for (kh = 0; kh < sh->k_h; kh++) {
        int32_t oh0, oh1;
        rct_out_range(kh, sh->stride_h, sh->pad_top, sh->in_h, sh->out_h, &oh0, &oh1);
        for (kw = 0; kw < sh->k_w; kw++) {
            int32_t ow0, ow1;
            rct_out_range(kw, sh->stride_w, sh->pad_left, sh->in_w, sh->out_w, &ow0, &ow1);
            for (oc = 0; oc < OC;) {
                int32_t g[4], nb = 1, s, oh;
                g[0] = g[1] = g[2] = g[3] = 0; /* element-wise: -Os calls memset for {0} */
                if (oc < oc4) {
                    nb = 4;
                    if (ow1 > ow0)
                        for (s = 0; s < sh->n; s++)
                            for (oh = oh0; oh < oh1; oh++) {
                                const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
                                const int32_t iw = ow0 * sh->stride_w - sh->pad_left + kw;
                                row4(x + ((s * sh->in_h + ih) * sh->in_w + iw) * C + oc / DM,
                                     sh->stride_w * C, xinc,
                                     dz + ((s * sh->out_h + oh) * sh->out_w + ow0) * OC + oc, OC,
                                     ow1 - ow0, g);
                            }
                } else {
                    g[0] = (int32_t)rct_sat64(rct_depthwise_conv2d_weight_grad(
                                                  x, dz, sh, kh, kw, oc / DM, oc % DM), 32);
                }
                abs_sum += rct_update_block(w->data, k, g, nb, &u);
                k += nb;
                oc += nb;
            }
        }
    }
    if (stochastic && shift >= 1) r->counter = rct_prng_after(u.c0, w->size);
    return rct_gavg_q16(abs_sum, w->size, shift);
}
