/* MaxPool2D backward: each window's error goes to its first maximum (scan order kh, kw). Gather
 * form: an input element sums the errors of the windows whose argmax it is (int64), then the
 * tensor gets the dynamic int16 exponent (two passes, no scratch). */
#include "rct.h"

/* Flat (h * in_w + w) position of the first maximum of window (oh, ow) in channel c. */
static int32_t argmax_pos(const int8_t *x, const rct_conv_shape_t *sh, int32_t s, int32_t oh,
                          int32_t ow, int32_t c)
{
    int32_t best = -129, pos = -1, kh, kw;
    for (kh = 0; kh < sh->k_h; kh++) {
        const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
        if (ih < 0 || ih >= sh->in_h) continue;
        for (kw = 0; kw < sh->k_w; kw++) {
            const int32_t iw = ow * sh->stride_w - sh->pad_left + kw;
            int32_t v;
            if (iw < 0 || iw >= sh->in_w) continue;
            v = x[((s * sh->in_h + ih) * sh->in_w + iw) * sh->in_c + c];
            if (v > best) {
                best = v;
                pos = ih * sh->in_w + iw;
            }
        }
    }
    return pos;
}

static int64_t gather(const int8_t *x, const int16_t *dy, const rct_conv_shape_t *sh, int32_t s,
                      int32_t h, int32_t w, int32_t c)
{
    int64_t a = 0;
    int32_t kh, kw;
    for (kh = 0; kh < sh->k_h; kh++) {
        const int32_t th = h + sh->pad_top - kh;
        int32_t oh;
        if (th < 0 || th % sh->stride_h != 0) continue;
        oh = th / sh->stride_h;
        if (oh >= sh->out_h) continue;
        for (kw = 0; kw < sh->k_w; kw++) {
            const int32_t tw = w + sh->pad_left - kw;
            int32_t ow;
            if (tw < 0 || tw % sh->stride_w != 0) continue;
            ow = tw / sh->stride_w;
            if (ow >= sh->out_w) continue;
            if (argmax_pos(x, sh, s, oh, ow, c) == h * sh->in_w + w)
                a += dy[((s * sh->out_h + oh) * sh->out_w + ow) * sh->in_c + c];
        }
    }
    return a;
}

int32_t rct_maxpool2d_backward(const int8_t *x, const int16_t *dy, int32_t dy_exp,
                               int16_t *dx, const rct_conv_shape_t *sh)
{
    int64_t m = 0;
    int32_t s, h, w, c, shift = 0, pass;
    for (pass = 0; pass < 2; pass++) {
        int16_t *d = dx;
        for (s = 0; s < sh->n; s++)
            for (h = 0; h < sh->in_h; h++)
                for (w = 0; w < sh->in_w; w++)
                    for (c = 0; c < sh->in_c; c++) {
                        const int64_t v = gather(x, dy, sh, s, h, w, c);
                        if (pass == 0) {
                            const int64_t mag = rct_err_mag(v);
                            if (mag > m) m = mag;
                        } else {
                            *d++ = (int16_t)rct_sat64(rct_round_nearest64(v, shift), 16);
                        }
                    }
        shift = rct_err_shift(m);
    }
    return dy_exp + shift;
}
