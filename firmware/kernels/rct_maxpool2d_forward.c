/* MaxPool2D forward: maximum over the valid taps of each window (padding skipped), and the
 * window index (kh * k_w + kw) of its first maximum for the backward pass. */
#include <stddef.h>
#include "rct.h"

void rct_maxpool2d_forward(const int8_t *x, int8_t *y, uint8_t *arg, const rct_conv_shape_t *sh)
{
    const int32_t C = sh->in_c, W = sh->in_w, KW = sh->k_w;
    int32_t s, oh, ow, c, kh, kw;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++) {
            int32_t kh0, kh1;
            rct_tap_range(oh, sh->stride_h, sh->pad_top, sh->k_h, sh->in_h, &kh0, &kh1);
            for (ow = 0; ow < sh->out_w; ow++) {
                const int32_t o = ((s * sh->out_h + oh) * sh->out_w + ow) * C;
                /* index of the window's (0, 0) tap, which may lie in the padding */
                const int32_t xw = ((s * sh->in_h + oh * sh->stride_h - sh->pad_top) * W +
                                    ow * sh->stride_w - sh->pad_left) * C;
                int32_t kw0, kw1;
                rct_tap_range(ow, sh->stride_w, sh->pad_left, KW, W, &kw0, &kw1);
                for (c = 0; c < C; c++) {
                    int32_t best = -129, at = 0;
                    for (kh = kh0; kh < kh1; kh++)
                        for (kw = kw0; kw < kw1; kw++) {
                            const int32_t v = x[xw + (kh * W + kw) * C + c];
                            if (v > best) { /* strict: the first maximum in scan order wins */
                                best = v;
                                at = kh * KW + kw;
                            }
                        }
                    y[o + c] = (int8_t)best;
                    if (arg != NULL) arg[o + c] = (uint8_t)at;
                }
            }
        }
}
