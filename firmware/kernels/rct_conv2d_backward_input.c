/* Conv2D error w.r.t. the input: for each input element, gather over the taps whose output
 * position exists (oh = (h + pad_top - kh) / stride, exact division) and over cout, where dz and
 * w are both contiguous (a dot product: SMLALD pairs on Cortex-M4). Exact int64 sums, one pass:
 * rct_err_stream picks the dynamic int16 exponent without a second GEMM. */
#include "rct.h"

/* Sum over nkh x nkw taps of dot(dz row, w row) over CO channels: stepping a tap row moves dz
 * by dkh and w by wkh elements, a tap by dkw and wkw (dz walks back as the tap index grows).
 * One call per input element keeps the int64 sum and the pointers in registers. */
static RCT_NOINLINE int64_t gather_i16(const int16_t *dz, const int16_t *w, int32_t nkh,
                                       int32_t nkw, int32_t dkh, int32_t wkh, int32_t dkw,
                                       int32_t wkw, int32_t CO)
{
    int64_t s = 0;
    int32_t i, j, c;
    for (i = 0; i < nkh; i++)
        for (j = 0; j < nkw; j++) { /* pointers formed for real taps only */
            const int16_t *d = dz + i * dkh + j * dkw;
            const int16_t *q = w + i * wkh + j * wkw;
            c = 0;
#if RCT_DSP
            for (; c + 4 <= CO; c += 4) { /* SMLALD: two 16x16 products into the int64 sum */
                s = __smlald(rct_ld32(d + c), rct_ld32(q + c), s);
                s = __smlald(rct_ld32(d + c + 2), rct_ld32(q + c + 2), s);
            }
#endif
            for (; c < CO; c++) s += (int32_t)d[c] * (int64_t)q[c];
        }
    return s;
}

static RCT_NOINLINE int64_t gather_i8(const int16_t *dz, const int8_t *w, int32_t nkh,
                                      int32_t nkw, int32_t dkh, int32_t wkh, int32_t dkw,
                                      int32_t wkw, int32_t CO)
{
    int64_t s = 0;
    int32_t i, j, c;
    for (i = 0; i < nkh; i++)
        for (j = 0; j < nkw; j++) { /* pointers formed for real taps only */
            const int16_t *d = dz + i * dkh + j * dkw;
            const int8_t *q = w + i * wkh + j * wkw;
            c = 0;
#if RCT_DSP
            for (; c + 4 <= CO; c += 4) { /* q0..q3 -> (q0, q1), (q2, q3) as int16 pairs */
                const uint32_t v = (uint32_t)rct_ld32(q + c);
                const uint32_t e = (uint32_t)__sxtb16((int32_t)v);                   /* q0, q2 */
                const uint32_t o = (uint32_t)__sxtb16((int32_t)((v >> 8) | (v << 24))); /* q1, q3 */
                s = __smlald(rct_ld32(d + c), (int32_t)((e & 0xFFFFu) | (o << 16)), s);
                s = __smlald(rct_ld32(d + c + 2), (int32_t)((e >> 16) | (o & 0xFFFF0000u)), s);
            }
#endif
            for (; c < CO; c++) s += (int32_t)d[c] * (int64_t)q[c];
        }
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
                    if (kh1 > kh0 && kw1 > kw0) {
                        /* first tap (kh0, kw0): its output position and weight row */
                        const int32_t oh = (h + sh->pad_top - kh0) / sth;
                        const int32_t ow = (x + sh->pad_left - kw0) / stw;
                        const int16_t *dzp = dz + ((s * sh->out_h + oh) * sh->out_w + ow) * CO;
                        const int32_t wb = ((kh0 * KW + kw0) * C + ci) * CO;
                        const int32_t nkh = (kh1 - kh0 + sth - 1) / sth;
                        const int32_t nkw = (kw1 - kw0 + stw - 1) / stw;
                        const int32_t dkh = -sh->out_w * CO, wkh = sth * KW * C * CO;
                        const int32_t dkw = -CO, wkw = stw * C * CO;
                        if (w_bits <= 8)
                            v = gather_i8(dzp, (const int8_t *)w + wb, nkh, nkw, dkh, wkh, dkw,
                                          wkw, CO);
                        else
                            v = gather_i16(dzp, (const int16_t *)w + wb, nkh, nkw, dkh, wkh, dkw,
                                           wkw, CO);
                    }
                    rct_err_stream_put(&es, v);
                }
            }
        }
    return w_exp + dz_exp + rct_err_stream_finish(&es);
}
