/* MaxPool2D forward: maximum over the valid taps of each window (padding skipped), and the
 * window index (kh * k_w + kw) of its first maximum for the backward pass, packed in
 * RCT_ARGMAX_BITS bits per output (outputs are visited in order, so each byte is started by its
 * first element and OR-ed by the next ones). */
#include <stddef.h>
#include "rct.h"

void rct_maxpool2d_forward(const int8_t *x, int8_t *y, uint8_t *arg, const rct_conv_shape_t *sh)
{
    const int32_t C = sh->in_c, W = sh->in_w, KW = sh->k_w;
    const int32_t bits = RCT_ARGMAX_BITS(sh->k_h * KW);
    int32_t s, oh, ow, c, kh, kw, o = 0;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++) {
            const int32_t ih0 = oh * sh->stride_h - sh->pad_top;
            int32_t kh0, kh1;
            rct_tap_range(oh, sh->stride_h, sh->pad_top, sh->k_h, sh->in_h, &kh0, &kh1);
            for (ow = 0; ow < sh->out_w; ow++) {
                const int32_t iw0 = ow * sh->stride_w - sh->pad_left;
                const int8_t *xw;
                int32_t kw0, kw1;
                rct_tap_range(ow, sh->stride_w, sh->pad_left, KW, W, &kw0, &kw1);
                xw = x + ((s * sh->in_h + ih0 + kh0) * W + iw0 + kw0) * C; /* first valid tap */
                const int32_t full2 = sh->k_h == 2 && KW == 2 && kh0 == 0 && kh1 == 2 &&
                                      kw0 == 0 && kw1 == 2;
                for (c = 0; c < C; c++, o++) {
                    const int8_t *xc = xw + c;
                    int32_t best = -129, at = 0;
                    if (full2) { /* MaxPool2D(2) inside the image: four taps, no loops */
                        const int32_t v1 = xc[C], v2 = xc[W * C], v3 = xc[W * C + C];
                        best = xc[0];
                        if (v1 > best) { best = v1; at = 1; }
                        if (v2 > best) { best = v2; at = 2; }
                        if (v3 > best) { best = v3; at = 3; }
                    } else {
                        for (kh = kh0; kh < kh1; kh++, xc += W * C)
                            for (kw = kw0; kw < kw1; kw++) {
                                const int32_t v = xc[(kw - kw0) * C];
                                if (v > best) { /* strict: the first maximum in scan order */
                                    best = v;
                                    at = kh * KW + kw;
                                }
                            }
                    }
                    y[o] = (int8_t)best;
                    if (arg != NULL) {
                        const int32_t bit = o * bits;
                        if ((bit & 7) == 0) arg[bit >> 3] = (uint8_t)at;
                        else arg[bit >> 3] = (uint8_t)(arg[bit >> 3] | (at << (bit & 7)));
                    }
                }
            }
        }
}
