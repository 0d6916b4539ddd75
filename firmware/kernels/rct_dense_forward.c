/* Dense forward over weights stored [out][in]: int32/int64 accumulation, bias aligned into the
 * accumulator, round-to-nearest requantisation to the int8 output exponent, fused ReLU/ReLU6
 * (docs/numerics.md). With RCT_FAST_KERNELS on a core with the DSP extension (Cortex-M4/M7),
 * int16 weights go through SMLAD four outputs at a time over a sign-extended copy of the input
 * row on the stack; the portable loops are the reference and give the same integers. */
#include <stddef.h>
#include <stdint.h>
#include "rct.h"

#if defined(RCT_FAST_KERNELS) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define RCT_DENSE_SIMD 1
#define RCT_DENSE_XS_MAX 256 /* fan-ins up to this use the SIMD path (512 B of stack) */
#endif

static int64_t dot_i8(const int8_t *x, const int8_t *w, int32_t in, rct_acc_t acc)
{
    int32_t i;
    if (acc == RCT_ACC32) { /* caller guarantees in * 2^(8+6) <= 2^31 - 1 */
        int32_t a = 0;
        for (i = 0; i < in; i++) a += (int32_t)x[i] * w[i];
        return a;
    } else {
        int64_t a = 0;
        for (i = 0; i < in; i++) a += (int32_t)x[i] * w[i];
        return a;
    }
}

static int64_t dot_i16(const int8_t *x, const int16_t *w, int32_t in, rct_acc_t acc)
{
    int32_t i;
    if (acc == RCT_ACC32) { /* caller guarantees in * 2^(w_bits+6) <= 2^31 - 1 */
        int32_t a = 0;
        for (i = 0; i < in; i++) a += (int32_t)x[i] * w[i];
        return a;
    } else {
        int64_t a = 0;
        for (i = 0; i < in; i++) a += (int64_t)((int32_t)x[i] * w[i]);
        return a;
    }
}

static int8_t finish(int64_t v, const void *b, int32_t b_bits, int32_t b_exp, int32_t o, int32_t e,
                     int32_t y_exp, rct_act_t act, int32_t upper)
{
    if (b != NULL) v += rct_round_nearest64(rct_wload(b, b_bits, o), e - b_exp);
    v = rct_sat64(rct_round_nearest64(v, y_exp - e), 8);
    if (act != RCT_ACT_LINEAR) {
        if (v < 0) v = 0;
        if (v > upper) v = upper;
    }
    return (int8_t)v;
}

#ifdef RCT_DENSE_SIMD
/* Sums of `cnt` (1..4) consecutive output rows starting at w over xs, the input row as int16:
 * per four inputs one LDRD of xs serves four rows (LDRD + 2 SMLAD each), 15 instructions per 16
 * MACs. Written in asm because GCC spills the 14 live registers at -Os. int32 accumulation: only
 * used under RCT_ACC32's bound. */
/* finish() in 32-bit saturating arithmetic for the SIMD path. Exact when 1 <= rs <= 24: a sum
 * that saturates int32 still lands beyond the int8 range after the shift, as the int64 one would.
 * bal is the bias already at the accumulator's exponent. */
static int8_t finish32(int32_t a, int32_t bal, int32_t rs, rct_act_t act, int32_t upper)
{
    int32_t v = rct_asr32(__qadd(__qadd(a, bal), 1 << (rs - 1)), rs);
    v = v > 127 ? 127 : (v < -128 ? -128 : v);
    if (act != RCT_ACT_LINEAR) {
        if (v < 0) v = 0;
        if (v > upper) v = upper;
    }
    return (int8_t)v;
}

static void simd_rows(const int16_t *xs, const int16_t *w, int32_t in, int32_t cnt, int32_t *acc)
{
    const int16_t *w0 = w, *w1 = cnt > 1 ? w0 + in : w0, *w2 = cnt > 2 ? w1 + in : w1;
    const int16_t *w3 = cnt > 3 ? w2 + in : w2; /* short groups repeat a row, results unused */
    const int16_t *xp = xs;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, i, quads = in >> 2;
    if (quads > 0) {
        int32_t xa, xb, wa, wb;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[xa], %[xb], [%[xp]], #8\n\t"
            "ldrd %[wa], %[wb], [%[w0]], #8\n\t"
            "smlad %[a0], %[xa], %[wa], %[a0]\n\t"
            "smlad %[a0], %[xb], %[wb], %[a0]\n\t"
            "ldrd %[wa], %[wb], [%[w1]], #8\n\t"
            "smlad %[a1], %[xa], %[wa], %[a1]\n\t"
            "smlad %[a1], %[xb], %[wb], %[a1]\n\t"
            "ldrd %[wa], %[wb], [%[w2]], #8\n\t"
            "smlad %[a2], %[xa], %[wa], %[a2]\n\t"
            "smlad %[a2], %[xb], %[wb], %[a2]\n\t"
            "ldrd %[wa], %[wb], [%[w3]], #8\n\t"
            "smlad %[a3], %[xa], %[wa], %[a3]\n\t"
            "smlad %[a3], %[xb], %[wb], %[a3]\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp),
              [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [n] "+r"(quads),
              [xa] "=&r"(xa), [xb] "=&r"(xb), [wa] "=&r"(wa), [wb] "=&r"(wb)
            :
            : "cc", "memory");
    }
    for (i = in & ~3; i < in; i++) { /* the pointers now sit at element in & ~3 */
        const int32_t xv = *xp++;
        a0 += xv * *w0++; a1 += xv * *w1++; a2 += xv * *w2++; a3 += xv * *w3++;
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}
#endif

void rct_dense_forward(const int8_t *x, int32_t x_exp,
                       const void *w, int32_t w_bits, int32_t w_exp,
                       const void *b, int32_t b_bits, int32_t b_exp,
                       int8_t *y, int32_t y_exp,
                       int32_t n, int32_t in, int32_t out, rct_act_t act, rct_acc_t acc)
{
    const int32_t e = x_exp + w_exp;
    const int32_t upper = act == RCT_ACT_RELU6 ? rct_relu6_upper(y_exp) : 127;
    int32_t s, o;
    for (s = 0; s < n; s++) {
        const int8_t *xr = x + s * in;
        int8_t *yr = y + s * out;
#ifdef RCT_DENSE_SIMD
        if (w_bits > 8 && acc == RCT_ACC32 && in <= RCT_DENSE_XS_MAX && (in & 1) == 0 &&
            ((uintptr_t)w & 3u) == 0u) { /* LDRD needs word-aligned rows */
            int32_t xs_words[RCT_DENSE_XS_MAX / 2]; /* int32 storage: word-aligned for LDRD */
            int16_t *xs = (int16_t *)(void *)xs_words;
            int32_t a[4], i;
            for (i = 0; i < in; i++) xs[i] = xr[i];
            const int32_t rs = y_exp - e, bs = e - b_exp;
            /* bias at the accumulator's exponent in int32: right shifts, or left shifts of the
             * (at most 16-bit) bias by up to 15 */
            const int fast = rs >= 1 && rs <= 24 &&
                             (b == NULL || (bs >= -15 && bs <= 30 && b_bits <= 16));
            for (o = 0; o < out; o += 4) { /* four outputs' sums at a time, then their outputs */
                const int32_t cnt = out - o < 4 ? out - o : 4;
                int32_t k;
                simd_rows(xs, (const int16_t *)w + o * in, in, cnt, a);
                for (k = 0; k < cnt; k++) {
                    if (fast) {
                        const int32_t bq = b == NULL ? 0 : rct_wload(b, b_bits, o + k);
                        const int32_t bal = bs <= 0 ? bq * (1 << -bs)
                                                    : rct_asr32(bq + (1 << (bs - 1)), bs);
                        yr[o + k] = finish32(a[k], bal, rs, act, upper);
                    } else {
                        yr[o + k] = finish(a[k], b, b_bits, b_exp, o + k, e, y_exp, act, upper);
                    }
                }
            }
            continue;
        }
#endif
        for (o = 0; o < out; o++) {
            const int64_t v = w_bits <= 8 ? dot_i8(xr, (const int8_t *)w + o * in, in, acc)
                                          : dot_i16(xr, (const int16_t *)w + o * in, in, acc);
            yr[o] = finish(v, b, b_bits, b_exp, o, e, y_exp, act, upper);
        }
    }
}
