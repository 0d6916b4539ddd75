/* Conv2D forward, NHWC, kernel [kh][kw][cin][cout], TF padding (padding taps contribute 0).
 * Per output position the valid taps are computed once; within one kernel row the (kw, ci)
 * taps are contiguous in x and CO apart in w, so one flat loop feeds 4 output channels kept in
 * registers. The container branch (int8/int16) and the accumulator choice sit outside it. */
#include <stddef.h>
#include "rct.h"

/* a[0..3] += sum_j x[j] * w[j * CO + 0..3], j < len (int32: RCT_ACC32 bounds the sum). */
static RCT_NOINLINE void dot4_i16(const int8_t *x, const int16_t *w, int32_t len, int32_t CO,
                                  int32_t *a)
{
    int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], j;
    for (j = 0; j < len; j++) {
        const int32_t xv = x[j];
        const int16_t *wj = w + j * CO;
#if RCT_DSP
        const int32_t w01 = rct_ld32(wj), w23 = rct_ld32(wj + 2);
        a0 = __smlabb(w01, xv, a0);
        a1 = __smlatb(w01, xv, a1);
        a2 = __smlabb(w23, xv, a2);
        a3 = __smlatb(w23, xv, a3);
#else
        a0 += xv * wj[0];
        a1 += xv * wj[1];
        a2 += xv * wj[2];
        a3 += xv * wj[3];
#endif
    }
    a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3;
}

static RCT_NOINLINE void dot4_i8(const int8_t *x, const int8_t *w, int32_t len, int32_t CO,
                                 int32_t *a)
{
    int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], j;
    for (j = 0; j < len; j++) {
        const int32_t xv = x[j];
        const int8_t *wj = w + j * CO;
#if RCT_DSP
        const uint32_t v = (uint32_t)rct_ld32(wj);
        const int32_t e = __sxtb16((int32_t)v);                  /* w0, w2 */
        const int32_t o = __sxtb16((int32_t)((v >> 8) | (v << 24))); /* w1, w3 */
        a0 = __smlabb(e, xv, a0);
        a1 = __smlabb(o, xv, a1);
        a2 = __smlatb(e, xv, a2);
        a3 = __smlatb(o, xv, a3);
#else
        a0 += xv * wj[0];
        a1 += xv * wj[1];
        a2 += xv * wj[2];
        a3 += xv * wj[3];
#endif
    }
    a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3;
}

static int32_t dot1_32(const int8_t *x, const void *w, int32_t w_bits, int32_t len, int32_t CO)
{
    int32_t a = 0, j;
    if (w_bits <= 8) {
        const int8_t *p = (const int8_t *)w;
        for (j = 0; j < len; j++) a += (int32_t)x[j] * p[j * CO];
    } else {
        const int16_t *p = (const int16_t *)w;
        for (j = 0; j < len; j++) a += (int32_t)x[j] * p[j * CO];
    }
    return a;
}

static int64_t dot1_64(const int8_t *x, const void *w, int32_t w_bits, int32_t len, int32_t CO)
{
    int64_t a = 0;
    int32_t j;
    if (w_bits <= 8) {
        const int8_t *p = (const int8_t *)w;
        for (j = 0; j < len; j++) a += (int64_t)x[j] * p[j * CO];
    } else {
        const int16_t *p = (const int16_t *)w;
        for (j = 0; j < len; j++) a += (int64_t)x[j] * p[j * CO];
    }
    return a;
}

/* The output rule of rct_out_i8 with the shift's constants computed once per call. */
typedef struct {
    int32_t shift, act, upper;
    int64_t half;
} requant_t;

RCT_HOT_INLINE int8_t requant(int64_t v, const requant_t *q)
{
    if (q->shift <= 0 || q->shift >= 63) /* left shifts, or everything rounds to 0 */
        return rct_out_i8(v, q->shift, (rct_act_t)q->act, q->upper);
    v = rct_asr64(v + q->half, q->shift);
    if (v > 127) v = 127;
    if (v < -128) v = -128;
    if (q->act != RCT_ACT_LINEAR) {
        if (v < 0) v = 0;
        if (q->act == RCT_ACT_RELU6 && v > q->upper) v = q->upper;
    }
    return (int8_t)v;
}

void rct_conv2d_forward(const int8_t *x, int32_t x_exp,
                        const void *w, int32_t w_bits, int32_t w_exp,
                        const void *b, int32_t b_bits, int32_t b_exp,
                        int8_t *y, int32_t y_exp, const rct_conv_shape_t *sh,
                        rct_act_t act, rct_acc_t acc)
{
    const int32_t e = x_exp + w_exp;
    const int32_t H = sh->in_h, W = sh->in_w, C = sh->in_c, CO = sh->out_c, KW = sh->k_w;
    const int32_t wsz = w_bits <= 8 ? 1 : 2;
    const int32_t co4 = acc == RCT_ACC32 ? CO - CO % 4 : 0; /* channels done 4 at a time */
    requant_t q;
    int32_t s, oh, ow, co, kh;
    q.shift = y_exp - e;
    q.act = (int32_t)act;
    q.upper = rct_relu6_upper(y_exp);
    q.half = q.shift >= 1 && q.shift <= 62 ? (int64_t)1 << (q.shift - 1) : 0;
    for (co = 0; co < CO;) {
        /* a block of output channels: its bias terms once, then every position */
        const int32_t nb = co < co4 ? 4 : 1;
        int64_t bias[4];
        int32_t k;
        bias[0] = bias[1] = bias[2] = bias[3] = 0; /* element-wise: -Os calls memset for {0} */
        if (b != NULL)
            for (k = 0; k < nb; k++)
                bias[k] = rct_round_nearest64(rct_wload(b, b_bits, co + k), e - b_exp);
        for (s = 0; s < sh->n; s++)
            for (oh = 0; oh < sh->out_h; oh++) {
                const int32_t ih0 = oh * sh->stride_h - sh->pad_top;
                int32_t kh0, kh1;
                rct_tap_range(oh, sh->stride_h, sh->pad_top, sh->k_h, H, &kh0, &kh1);
                for (ow = 0; ow < sh->out_w; ow++) {
                    const int32_t iw0 = ow * sh->stride_w - sh->pad_left;
                    int32_t kw0, kw1, len, a[4];
                    int64_t a64 = 0;
                    int8_t *yp = y + ((s * sh->out_h + oh) * sh->out_w + ow) * CO + co;
                    a[0] = a[1] = a[2] = a[3] = 0;
                    rct_tap_range(ow, sh->stride_w, sh->pad_left, KW, W, &kw0, &kw1);
                    len = (kw1 - kw0) * C; /* taps of one kernel row: contiguous in x */
                    for (kh = kh0; kh < kh1 && len > 0; kh++) {
                        const int8_t *xr = x + ((s * H + ih0 + kh) * W + iw0 + kw0) * C;
                        const int32_t wo = ((kh * KW + kw0) * C) * CO + co;
                        const void *wr = (const int8_t *)w + wo * wsz;
                        if (nb == 4) {
                            if (wsz == 2) dot4_i16(xr, (const int16_t *)wr, len, CO, a);
                            else dot4_i8(xr, (const int8_t *)wr, len, CO, a);
                        } else if (acc == RCT_ACC32) {
                            a[0] += dot1_32(xr, wr, w_bits, len, CO);
                        } else {
                            a64 += dot1_64(xr, wr, w_bits, len, CO);
                        }
                    }
                    if (acc != RCT_ACC32) {
                        yp[0] = requant(a64 + bias[0], &q);
                    } else {
                        for (k = 0; k < nb; k++) yp[k] = requant((int64_t)a[k] + bias[k], &q);
                    }
                }
            }
        co += nb;
    }
}
