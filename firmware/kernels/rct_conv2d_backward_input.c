/* Conv2D error w.r.t. the input: for each input element, gather over the taps whose output
 * position exists (oh = (h + pad_top - kh) / stride, exact division) and over cout, where dz and
 * w are both contiguous (a dot product: SMLALD pairs on Cortex-M4). Exact int64 sums, one pass:
 * rct_err_stream picks the dynamic int16 exponent without a second GEMM. */
#include "rct.h"

static RCT_NOINLINE int64_t dot_i16(const int16_t *a, const int16_t *b, int32_t n)
{
    int64_t s = 0;
    int32_t j = 0;
#if RCT_DSP
    for (; j + 4 <= n; j += 4) {
        s = __smlald(rct_ld32(a + j), rct_ld32(b + j), s);
        s = __smlald(rct_ld32(a + j + 2), rct_ld32(b + j + 2), s);
    }
#endif
    for (; j < n; j++) s += (int32_t)a[j] * (int64_t)b[j];
    return s;
}

static RCT_NOINLINE int64_t dot_i8(const int16_t *a, const int8_t *b, int32_t n)
{
    int64_t s = 0;
    int32_t j = 0;
#if RCT_DSP
    for (; j + 4 <= n; j += 4) { /* b0..b3 -> (b0, b1), (b2, b3) as int16 pairs */
        const uint32_t v = (uint32_t)rct_ld32(b + j);
        const uint32_t e = (uint32_t)__sxtb16((int32_t)v);                   /* b0, b2 */
        const uint32_t o = (uint32_t)__sxtb16((int32_t)((v >> 8) | (v << 24))); /* b1, b3 */
        s = __smlald(rct_ld32(a + j), (int32_t)((e & 0xFFFFu) | (o << 16)), s);
        s = __smlald(rct_ld32(a + j + 2), (int32_t)((e >> 16) | (o & 0xFFFF0000u)), s);
    }
#endif
    for (; j < n; j++) s += (int32_t)a[j] * (int64_t)b[j];
    return s;
}

int32_t rct_conv2d_backward_input(const int16_t *dz, int32_t dz_exp,
                                  const void *w, int32_t w_bits, int32_t w_exp,
                                  int16_t *dx, const rct_conv_shape_t *sh)
{
    const int32_t CO = sh->out_c, C = sh->in_c, KW = sh->k_w;
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
                    int32_t kh, kw;
                    for (kh = kh0; kh < kh1; kh += sth) {
                        const int32_t oh = (h + sh->pad_top - kh) / sth;
                        for (kw = kw0; kw < kw1; kw += stw) {
                            const int32_t ow = (x + sh->pad_left - kw) / stw;
                            const int16_t *dzp = dz + ((s * sh->out_h + oh) * sh->out_w + ow) * CO;
                            const int32_t wb = ((kh * KW + kw) * C + ci) * CO;
                            if (w_bits <= 8) v += dot_i8(dzp, (const int8_t *)w + wb, CO);
                            else v += dot_i16(dzp, (const int16_t *)w + wb, CO);
                        }
                    }
                    rct_err_stream_put(&es, v);
                }
            }
        }
    return w_exp + dz_exp + rct_err_stream_finish(&es);
}
