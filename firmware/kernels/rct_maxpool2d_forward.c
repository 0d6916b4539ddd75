/* MaxPool2D forward: maximum over the valid taps of each window (padding skipped). */
#include "rct.h"

void rct_maxpool2d_forward(const int8_t *x, int8_t *y, const rct_conv_shape_t *sh)
{
    const int32_t C = sh->in_c;
    int32_t s, oh, ow, c, kh, kw;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++)
            for (ow = 0; ow < sh->out_w; ow++)
                for (c = 0; c < C; c++) {
                    int32_t best = -129;
                    for (kh = 0; kh < sh->k_h; kh++) {
                        const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
                        if (ih < 0 || ih >= sh->in_h) continue;
                        for (kw = 0; kw < sh->k_w; kw++) {
                            const int32_t iw = ow * sh->stride_w - sh->pad_left + kw;
                            int32_t v;
                            if (iw < 0 || iw >= sh->in_w) continue;
                            v = x[((s * sh->in_h + ih) * sh->in_w + iw) * C + c];
                            if (v > best) best = v;
                        }
                    }
                    y[((s * sh->out_h + oh) * sh->out_w + ow) * C + c] = (int8_t)best;
                }
}
