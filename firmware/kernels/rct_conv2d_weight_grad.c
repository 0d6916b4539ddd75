/* Exact int64 gradient of one conv2d kernel element [kh][kw][ci][co] over samples and output
 * positions (shared by rct_conv2d_backward_weight and rct_conv2d_backward_update). */
#include "rct.h"

int64_t rct_conv2d_weight_grad(const int8_t *x, const int16_t *dz, const rct_conv_shape_t *sh,
                               int32_t kh, int32_t kw, int32_t ci, int32_t co)
{
    int64_t a = 0;
    int32_t s, oh, ow;
    for (s = 0; s < sh->n; s++)
        for (oh = 0; oh < sh->out_h; oh++) {
            const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
            if (ih < 0 || ih >= sh->in_h) continue;
            for (ow = 0; ow < sh->out_w; ow++) {
                const int32_t iw = ow * sh->stride_w - sh->pad_left + kw;
                if (iw < 0 || iw >= sh->in_w) continue;
                a += (int64_t)x[((s * sh->in_h + ih) * sh->in_w + iw) * sh->in_c + ci] *
                     dz[((s * sh->out_h + oh) * sh->out_w + ow) * sh->out_c + co];
            }
        }
    return a;
}

