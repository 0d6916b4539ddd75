/* MaxPool2D backward from the forward's window argmax (no recomputation; packed as
 * RCT_ARGMAX_BITS bits per output): each window's error goes to its first maximum.
 * Non-overlapping windows (stride >= pool) give every input at most one error: a scatter into
 * zeros, already int16 at shift 0. Overlapping windows sum several: a gather per input (its
 * windows whose argmax it is), two cheap passes for the exponent. With y (the pool's output) an
 * activation mask of the layer before the pool is applied to dy first: for non-overlapping
 * windows that is exactly rct_relu_backward on dx with that layer's output, whose value at each
 * window's argmax is y, so the generator folds the mask here and need not keep that output. */
#include "rct.h"

static int32_t arg_at(const uint8_t *arg, int32_t o, int32_t bits)
{
    const int32_t bit = o * bits;
    return (arg[bit >> 3] >> (bit & 7)) & ((1 << bits) - 1);
}

/* dy[o], or 0 where the folded activation mask (y given) stops it */
static int32_t dy_at(const int16_t *dy, const int8_t *y, int32_t upper, int32_t o)
{
    return y == NULL || (y[o] > 0 && y[o] < upper) ? dy[o] : 0;
}

static int64_t gather(const uint8_t *arg, const int8_t *y, int32_t upper, const int16_t *dy,
                      const rct_conv_shape_t *sh, int32_t s, int32_t h, int32_t w, int32_t c)
{
    int64_t a = 0;
    int32_t kh0, kh1, kw0, kw1, kh, kw;
    rct_back_taps(h + sh->pad_top, sh->stride_h, sh->k_h, sh->out_h, &kh0, &kh1);
    rct_back_taps(w + sh->pad_left, sh->stride_w, sh->k_w, sh->out_w, &kw0, &kw1);
    for (kh = kh0; kh < kh1; kh += sh->stride_h)
        for (kw = kw0; kw < kw1; kw += sh->stride_w) {
            const int32_t oh = (h + sh->pad_top - kh) / sh->stride_h;
            const int32_t ow = (w + sh->pad_left - kw) / sh->stride_w;
            const int32_t o = ((s * sh->out_h + oh) * sh->out_w + ow) * sh->in_c + c;
            if (arg_at(arg, o, RCT_ARGMAX_BITS(sh->k_h * sh->k_w)) == kh * sh->k_w + kw)
                a += dy_at(dy, y, upper, o);
        }
    return a;
}

int32_t rct_maxpool2d_backward(const uint8_t *arg, const int8_t *y, int32_t upper,
                               const int16_t *dy, int32_t dy_exp, int16_t *dx,
                               const rct_conv_shape_t *sh)
{
    const int32_t C = sh->in_c, W = sh->in_w, bits = RCT_ARGMAX_BITS(sh->k_h * sh->k_w);
    int32_t s, h, w, c, shift = 0, pass;
    if (sh->stride_h >= sh->k_h && sh->stride_w >= sh->k_w) {
        const int32_t count = sh->n * sh->in_h * W * C;
        int32_t oh, ow, i;
        for (i = 0; i < count; i++) dx[i] = 0;
        for (s = 0; s < sh->n; s++)
            for (oh = 0; oh < sh->out_h; oh++)
                for (ow = 0; ow < sh->out_w; ow++) {
                    const int32_t o = ((s * sh->out_h + oh) * sh->out_w + ow) * C;
                    const int32_t base = (s * sh->in_h + oh * sh->stride_h - sh->pad_top) * W +
                                         ow * sh->stride_w - sh->pad_left;
                    for (c = 0; c < C; c++) {
                        const int32_t t = arg_at(arg, o + c, bits);
                        dx[(base + (t / sh->k_w) * W + t % sh->k_w) * C + c] =
                            (int16_t)dy_at(dy, y, upper, o + c);
                    }
                }
        return dy_exp; /* |dy| < 2^15: max(0, bitlen - 15) = 0 */
    }
    for (pass = 0; pass < 2; pass++) {
        int64_t m = 0;
        int16_t *d = dx;
        for (s = 0; s < sh->n; s++)
            for (h = 0; h < sh->in_h; h++)
                for (w = 0; w < W; w++)
                    for (c = 0; c < C; c++) {
                        const int64_t v = gather(arg, y, upper, dy, sh, s, h, w, c);
                        if (pass == 0) {
                            const int64_t mag = rct_err_mag(v);
                            if (mag > m) m = mag;
                        } else {
                            *d++ = (int16_t)rct_sat64(rct_round_nearest64(v, shift), 16);
                        }
                    }
        if (pass == 0) shift = rct_err_shift(m);
    }
    return dy_exp + shift;
}
