/* MaxPool2D forward: maximum over the valid taps of each window (padding skipped), and the
 * window index (kh * k_w + kw) of its first maximum for the backward pass. Taps are visited in
 * scan order with the channels innermost (contiguous), y/arg holding the running maximum. */
#include <stddef.h>
#include "rct.h"

void rct_maxpool2d_forward(const int8_t *x, int8_t *y, uint8_t *arg, const rct_conv_shape_t *sh)
{
    const int32_t C = sh->in_c, W = sh->in_w, KW = sh->k_w;
    int32_t s, oh, ow, c, kh, kw;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++) {
            const int32_t ih0 = oh * sh->stride_h - sh->pad_top;
            int32_t kh0, kh1;
            rct_tap_range(oh, sh->stride_h, sh->pad_top, sh->k_h, sh->in_h, &kh0, &kh1);
            for (ow = 0; ow < sh->out_w; ow++) {
                const int32_t o = ((s * sh->out_h + oh) * sh->out_w + ow) * C;
                const int32_t iw0 = ow * sh->stride_w - sh->pad_left;
                int8_t *yp = y + o;
                int32_t kw0, kw1, first = 1;
                rct_tap_range(ow, sh->stride_w, sh->pad_left, KW, W, &kw0, &kw1);
                for (kh = kh0; kh < kh1; kh++)
                    for (kw = kw0; kw < kw1; kw++) {
                        const int8_t *xp = x + ((s * sh->in_h + ih0 + kh) * W + iw0 + kw) * C;
                        const uint8_t t = (uint8_t)(kh * KW + kw);
                        if (first) { /* the first valid tap starts every channel's maximum */
                            for (c = 0; c < C; c++) yp[c] = xp[c];
                            if (arg != NULL)
                                for (c = 0; c < C; c++) arg[o + c] = t;
                            first = 0;
                        } else if (arg != NULL) {
                            for (c = 0; c < C; c++)
                                if (xp[c] > yp[c]) { /* strict: the first maximum wins */
                                    yp[c] = xp[c];
                                    arg[o + c] = t;
                                }
                        } else {
                            for (c = 0; c < C; c++)
                                if (xp[c] > yp[c]) yp[c] = xp[c];
                        }
                    }
            }
        }
}
