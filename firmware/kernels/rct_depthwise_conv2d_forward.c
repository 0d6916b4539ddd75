/* DepthwiseConv2D forward: kernel [kh][kw][cin][dm], output channel oc = ci * dm + m (TF).
 * Per output position the valid taps are computed once; per output channel the taps are a
 * strided walk over x and w. The container branch (int8/int16) and the accumulator choice sit
 * outside the tap loops. */
#include <stddef.h>
#include "rct.h"

/* sum over taps kh in [0, nh), kw in [0, nw) of x[kh * xrow + kw * C] * w[kh * wrow + kw * OC] */
static int64_t taps_i16(const int8_t *x, const int16_t *w, int32_t nh, int32_t nw, int32_t xrow,
                        int32_t wrow, int32_t C, int32_t OC, rct_acc_t acc)
{
    int32_t a32 = 0, kh, kw;
    int64_t a64 = 0;
    for (kh = 0; kh < nh; kh++) {
        const int8_t *xr = x + kh * xrow;
        const int16_t *wr = w + kh * wrow;
        if (acc == RCT_ACC32)
            for (kw = 0; kw < nw; kw++) a32 += (int32_t)xr[kw * C] * wr[kw * OC];
        else
            for (kw = 0; kw < nw; kw++) a64 += (int64_t)xr[kw * C] * wr[kw * OC];
    }
    return acc == RCT_ACC32 ? (int64_t)a32 : a64;
}

static int64_t taps_i8(const int8_t *x, const int8_t *w, int32_t nh, int32_t nw, int32_t xrow,
                       int32_t wrow, int32_t C, int32_t OC, rct_acc_t acc)
{
    int32_t a32 = 0, kh, kw;
    int64_t a64 = 0;
    for (kh = 0; kh < nh; kh++) {
        const int8_t *xr = x + kh * xrow;
        const int8_t *wr = w + kh * wrow;
        if (acc == RCT_ACC32)
            for (kw = 0; kw < nw; kw++) a32 += (int32_t)xr[kw * C] * wr[kw * OC];
        else
            for (kw = 0; kw < nw; kw++) a64 += (int64_t)xr[kw * C] * wr[kw * OC];
    }
    return acc == RCT_ACC32 ? (int64_t)a32 : a64;
}

void rct_depthwise_conv2d_forward(const int8_t *x, int32_t x_exp,
                                  const void *w, int32_t w_bits, int32_t w_exp,
                                  const void *b, int32_t b_bits, int32_t b_exp,
                                  int8_t *y, int32_t y_exp, const rct_conv_shape_t *sh,
                                  rct_act_t act, rct_acc_t acc)
{
    const int32_t e = x_exp + w_exp, shift = y_exp - e;
    const int32_t upper = rct_relu6_upper(y_exp);
    const int32_t H = sh->in_h, W = sh->in_w, C = sh->in_c, DM = sh->depth_multiplier;
    const int32_t OC = sh->out_c, KW = sh->k_w;
    int32_t s, oh, ow, oc;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++) {
            const int32_t ih0 = oh * sh->stride_h - sh->pad_top;
            int32_t kh0, kh1;
            rct_tap_range(oh, sh->stride_h, sh->pad_top, sh->k_h, H, &kh0, &kh1);
            for (ow = 0; ow < sh->out_w; ow++) {
                const int32_t iw0 = ow * sh->stride_w - sh->pad_left;
                int8_t *yp = y + ((s * sh->out_h + oh) * sh->out_w + ow) * OC;
                int32_t kw0, kw1;
                rct_tap_range(ow, sh->stride_w, sh->pad_left, KW, W, &kw0, &kw1);
                for (oc = 0; oc < OC; oc++) {
                    int64_t v = 0;
                    if (kh1 > kh0 && kw1 > kw0) {
                        const int8_t *xp = x + ((s * H + ih0 + kh0) * W + iw0 + kw0) * C + oc / DM;
                        const int32_t wo = (kh0 * KW + kw0) * OC + oc;
                        if (w_bits <= 8)
                            v = taps_i8(xp, (const int8_t *)w + wo, kh1 - kh0, kw1 - kw0, W * C,
                                        KW * OC, C, OC, acc);
                        else
                            v = taps_i16(xp, (const int16_t *)w + wo, kh1 - kh0, kw1 - kw0,
                                         W * C, KW * OC, C, OC, acc);
                    }
                    if (b != NULL) v += rct_round_nearest64(rct_wload(b, b_bits, oc), e - b_exp);
                    yp[oc] = rct_out_i8(v, shift, act, upper);
                }
            }
        }
}
