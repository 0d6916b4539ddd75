/* DepthwiseConv2D error w.r.t. the input: gather over the taps whose output position exists and
 * the channel's dm outputs (contiguous in dz and w), exact int64, one pass (rct_err_stream). */
#include "rct.h"

int32_t rct_depthwise_conv2d_backward_input(const int16_t *dz, int32_t dz_exp,
                                            const void *w, int32_t w_bits, int32_t w_exp,
                                            int16_t *dx, const rct_conv_shape_t *sh)
{
    const int32_t DM = sh->depth_multiplier, C = sh->in_c, KW = sh->k_w;
    const int32_t sth = sh->stride_h, stw = sh->stride_w;
    rct_err_stream_t es;
    int32_t s, h, x, ci;
    rct_err_stream_begin(&es, dx, sh->n * sh->in_h * sh->in_w * C);
    for (s = 0; s < sh->n; s++)
        for (h = 0; h < sh->in_h; h++) {
            int32_t kh0, kh1;
            rct_back_taps(h + sh->pad_top, sth, sh->k_h, sh->out_h, &kh0, &kh1);
            for (x = 0; x < sh->in_w; x++) {
                int32_t kw0, kw1;
                rct_back_taps(x + sh->pad_left, stw, KW, sh->out_w, &kw0, &kw1);
                for (ci = 0; ci < C; ci++) {
                    int64_t v = 0;
                    int32_t kh, kw, m;
                    for (kh = kh0; kh < kh1; kh += sth) {
                        const int32_t oh = (h + sh->pad_top - kh) / sth;
                        for (kw = kw0; kw < kw1; kw += stw) {
                            const int32_t ow = (x + sh->pad_left - kw) / stw;
                            const int16_t *dzp =
                                dz + ((s * sh->out_h + oh) * sh->out_w + ow) * sh->out_c + ci * DM;
                            const int32_t wb = ((kh * KW + kw) * C + ci) * DM;
                            if (w_bits <= 8) {
                                const int8_t *wp = (const int8_t *)w + wb;
                                for (m = 0; m < DM; m++) v += (int32_t)dzp[m] * (int64_t)wp[m];
                            } else {
                                const int16_t *wp = (const int16_t *)w + wb;
                                for (m = 0; m < DM; m++) v += (int32_t)dzp[m] * (int64_t)wp[m];
                            }
                        }
                    }
                    rct_err_stream_put(&es, v);
                }
            }
        }
    return w_exp + dz_exp + rct_err_stream_finish(&es);
}
