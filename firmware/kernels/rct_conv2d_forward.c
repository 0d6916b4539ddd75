/* Conv2D forward, NHWC, kernel [kh][kw][cin][cout], TF padding (padding taps contribute 0). */
#include <stddef.h>
#include "rct.h"

void rct_conv2d_forward(const int8_t *x, int32_t x_exp,
                        const void *w, int32_t w_bits, int32_t w_exp,
                        const void *b, int32_t b_bits, int32_t b_exp,
                        int8_t *y, int32_t y_exp, const rct_conv_shape_t *sh,
                        rct_act_t act, rct_acc_t acc)
{
    const int32_t e = x_exp + w_exp;
    const int32_t upper = rct_relu6_upper(y_exp);
    const int32_t H = sh->in_h, W = sh->in_w, C = sh->in_c, CO = sh->out_c;
    int32_t s, oh, ow, co, kh, kw, ci;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++)
            for (ow = 0; ow < sh->out_w; ow++)
                for (co = 0; co < CO; co++) {
                    int32_t a32 = 0; /* used when acc == RCT_ACC32 (no overflow by contract) */
                    int64_t a64 = 0;
                    int64_t v;
                    for (kh = 0; kh < sh->k_h; kh++) {
                        const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
                        if (ih < 0 || ih >= H) continue;
                        for (kw = 0; kw < sh->k_w; kw++) {
                            const int32_t iw = ow * sh->stride_w - sh->pad_left + kw;
                            const int8_t *xp;
                            const int32_t wb = (kh * sh->k_w + kw) * C * CO + co;
                            if (iw < 0 || iw >= W) continue;
                            xp = x + ((s * H + ih) * W + iw) * C;
                            if (acc == RCT_ACC32)
                                for (ci = 0; ci < C; ci++)
                                    a32 += (int32_t)xp[ci] * rct_wload(w, w_bits, wb + ci * CO);
                            else
                                for (ci = 0; ci < C; ci++)
                                    a64 += (int64_t)xp[ci] * rct_wload(w, w_bits, wb + ci * CO);
                        }
                    }
                    v = acc == RCT_ACC32 ? (int64_t)a32 : a64;
                    if (b != NULL) v += rct_round_nearest64(rct_wload(b, b_bits, co), e - b_exp);
                    y[((s * sh->out_h + oh) * sh->out_w + ow) * CO + co] =
                        rct_out_i8(v, y_exp - e, act, upper);
                }
}
