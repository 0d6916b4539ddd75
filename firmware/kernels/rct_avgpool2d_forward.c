/* AveragePool2D forward: round-to-nearest of sum / count over the valid taps (TF excludes
 * padding from the count). */
#include "rct.h"

void rct_avgpool2d_forward(const int8_t *x, int8_t *y, const rct_conv_shape_t *sh)
{
    const int32_t C = sh->in_c;
    int32_t s, oh, ow, c, kh, kw;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++)
            for (ow = 0; ow < sh->out_w; ow++)
                for (c = 0; c < C; c++) {
                    int64_t sum = 0, count = 0;
                    for (kh = 0; kh < sh->k_h; kh++) {
                        const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
                        if (ih < 0 || ih >= sh->in_h) continue;
                        for (kw = 0; kw < sh->k_w; kw++) {
                            const int32_t iw = ow * sh->stride_w - sh->pad_left + kw;
                            if (iw < 0 || iw >= sh->in_w) continue;
                            sum += x[((s * sh->in_h + ih) * sh->in_w + iw) * C + c];
                            count++;
                        }
                    }
                    y[((s * sh->out_h + oh) * sh->out_w + ow) * C + c] =
                        (int8_t)rct_sat64(rct_div_round64(sum, count), 8);
                }
}
