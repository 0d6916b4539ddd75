/* DepthwiseConv2D forward: kernel [kh][kw][cin][dm], output channel oc = ci * dm + m (TF). */
#include <stddef.h>
#include "rct.h"

void rct_depthwise_conv2d_forward(const int8_t *x, int32_t x_exp,
                                  const void *w, int32_t w_bits, int32_t w_exp,
                                  const void *b, int32_t b_bits, int32_t b_exp,
                                  int8_t *y, int32_t y_exp, const rct_conv_shape_t *sh,
                                  rct_act_t act, rct_acc_t acc)
{
    const int32_t e = x_exp + w_exp;
    const int32_t upper = rct_relu6_upper(y_exp);
    const int32_t C = sh->in_c, DM = sh->depth_multiplier;
    int32_t s, oh, ow, ci, m, kh, kw;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++)
            for (ow = 0; ow < sh->out_w; ow++)
                for (ci = 0; ci < C; ci++)
                    for (m = 0; m < DM; m++) {
                        const int32_t oc = ci * DM + m;
                        int32_t a32 = 0; /* acc == RCT_ACC32: k_h*k_w*2^(bits+6) fits */
                        int64_t a64 = 0;
                        int64_t v;
                        for (kh = 0; kh < sh->k_h; kh++) {
                            const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
                            if (ih < 0 || ih >= sh->in_h) continue;
                            for (kw = 0; kw < sh->k_w; kw++) {
                                const int32_t iw = ow * sh->stride_w - sh->pad_left + kw;
                                int32_t xv, wv;
                                if (iw < 0 || iw >= sh->in_w) continue;
                                xv = x[((s * sh->in_h + ih) * sh->in_w + iw) * C + ci];
                                wv = rct_wload(w, w_bits, ((kh * sh->k_w + kw) * C + ci) * DM + m);
                                if (acc == RCT_ACC32) a32 += xv * wv;
                                else a64 += (int64_t)xv * wv;
                            }
                        }
                        v = acc == RCT_ACC32 ? (int64_t)a32 : a64;
                        if (b != NULL) v += rct_round_nearest64(rct_wload(b, b_bits, oc), e - b_exp);
                        y[((s * sh->out_h + oh) * sh->out_w + ow) * sh->out_c + oc] =
                            rct_out_i8(v, y_exp - e, act, upper);
                    }
}
