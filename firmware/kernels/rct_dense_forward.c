/* Dense forward over weights stored [out][in]: int32/int64 accumulation, bias aligned into the
 * accumulator, round-to-nearest requantisation to the int8 output exponent, fused ReLU/ReLU6
 * (docs/numerics.md). With RCT_FAST_KERNELS on a core with the DSP extension (Cortex-M4/M7),
 * int16 and int8 weights go through SMLAD four outputs at a time over a sign-extended copy of
 * the input row on the stack; the portable loops are the reference and give the same integers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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
/* Sums of two consecutive int16 output rows (w, w + in) over xs, the input row as int16, returned
 * as (row 1 << 32) | row 0: per eight inputs one LDM of xs and one LDM per row feed eight SMLADs,
 * 13 instructions per 16 MACs (r4-r11 carry the operands). The in % 8 leading inputs go first
 * (in is even here, so the pointers stay word-aligned for LDM) and nothing is live across the
 * asm but the sums: no spills, a short prologue. int32 accumulation: only used under
 * RCT_ACC32's bound, where the order of the additions cannot change the sums. */
RCT_NOINLINE static uint64_t simd_pair16(const int16_t *xs, const int16_t *w, int32_t in,
                                         int32_t two)
{
    const int16_t *xp = xs, *w0 = w, *w1 = two ? w + in : w;
    int32_t a0 = 0, a1 = 0, i, oct = in >> 3;
    for (i = 0; i < (in & 7); i++) {
        const int32_t xv = *xp++;
        a0 += xv * *w0++;
        a1 += xv * *w1++;
    }
    if (oct > 0) {
        __asm__ volatile(
            "1:\n\t"
            "ldmia %[xp]!, {r4, r5, r6, r7}\n\t"
            "ldmia %[w0]!, {r8, r9, r10, r11}\n\t"
            "smlad %[a0], r4, r8, %[a0]\n\t"
            "smlad %[a0], r5, r9, %[a0]\n\t"
            "smlad %[a0], r6, r10, %[a0]\n\t"
            "smlad %[a0], r7, r11, %[a0]\n\t"
            "ldmia %[w1]!, {r8, r9, r10, r11}\n\t"
            "smlad %[a1], r4, r8, %[a1]\n\t"
            "smlad %[a1], r5, r9, %[a1]\n\t"
            "smlad %[a1], r6, r10, %[a1]\n\t"
            "smlad %[a1], r7, r11, %[a1]\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [xp] "+r"(xp), [w0] "+r"(w0), [w1] "+r"(w1),
              [n] "+r"(oct)
            :
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
    return ((uint64_t)(uint32_t)a1 << 32) | (uint32_t)a0;
}

/* simd_rows for int8 weights (frozen tables): xs holds the row as SXTB16 pairs (x0,x2),(x1,x3)
 * per four inputs, so each weight word needs two SXTB16 and no repacking: 23 instructions per
 * 16 MACs. `in` is a multiple of 4 here. */
RCT_NOINLINE static void simd_rows_i8(const int16_t *xs, const int8_t *w, int32_t in, int32_t cnt,
                         int32_t *acc)
{
    const int8_t *w0 = w, *w1 = cnt > 1 ? w0 + in : w0, *w2 = cnt > 2 ? w1 + in : w1;
    const int8_t *w3 = cnt > 3 ? w2 + in : w2;
    const int16_t *xp = xs;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, quads = in >> 2;
    int32_t xa, xb, wa, wb;
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[xa], %[xb], [%[xp]], #8\n\t"
        "ldr %[wa], [%[w0]], #4\n\t"
        "sxtb16 %[wb], %[wa]\n\t"
        "sxtb16 %[wa], %[wa], ror #8\n\t"
        "smlad %[a0], %[xa], %[wb], %[a0]\n\t"
        "smlad %[a0], %[xb], %[wa], %[a0]\n\t"
        "ldr %[wa], [%[w1]], #4\n\t"
        "sxtb16 %[wb], %[wa]\n\t"
        "sxtb16 %[wa], %[wa], ror #8\n\t"
        "smlad %[a1], %[xa], %[wb], %[a1]\n\t"
        "smlad %[a1], %[xb], %[wa], %[a1]\n\t"
        "ldr %[wa], [%[w2]], #4\n\t"
        "sxtb16 %[wb], %[wa]\n\t"
        "sxtb16 %[wa], %[wa], ror #8\n\t"
        "smlad %[a2], %[xa], %[wb], %[a2]\n\t"
        "smlad %[a2], %[xb], %[wa], %[a2]\n\t"
        "ldr %[wa], [%[w3]], #4\n\t"
        "sxtb16 %[wb], %[wa]\n\t"
        "sxtb16 %[wa], %[wa], ror #8\n\t"
        "smlad %[a3], %[xa], %[wb], %[a3]\n\t"
        "smlad %[a3], %[xb], %[wa], %[a3]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xp] "+r"(xp),
          [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [n] "+r"(quads),
          [xa] "=&r"(xa), [xb] "=&r"(xb), [wa] "=&r"(wa), [wb] "=&r"(wb)
        :
        : "cc", "memory");
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}

/* The requantisation of one call for the SIMD path, in 32-bit saturating arithmetic. Exact when
 * 1 <= rs <= 24: a sum that saturates int32 still lands beyond the int8 range after the shift,
 * as the int64 one would; the bias moves to the accumulator's exponent by bs (a left shift of
 * at most 15 for a 16-bit bias, or a rounded right shift). */
typedef struct {
    const void *b;
    int32_t b_bits, bs, rs;
    rct_act_t act;
    int32_t upper;
} rct_fwd_q_t;

/* One sample through the SIMD path: the input row sign-extended once, then the outputs two
 * (int16 rows) or four (int8 rows) at a time, each finished in 32-bit. Out of line so that its
 * loop state stays in registers. */
RCT_NOINLINE static void simd_sample(const int8_t *xr, const void *w, int32_t w_bits, int32_t in,
                                     int32_t out, const rct_fwd_q_t *q, int8_t *yr)
{
    int32_t xs_words[RCT_DENSE_XS_MAX / 2]; /* int32 storage: word-aligned for LDM/LDRD */
    int16_t *xs = (int16_t *)(void *)xs_words;
    const int simd8 = w_bits <= 8, group = simd8 ? 4 : 2;
    int32_t a[4], i, o;
    /* sign-extend four inputs per word: SXTB16 gives (x0, x2) and (x1, x3); the int8-weight
     * path reads exactly that order, the int16 one the natural order (two PKHs) */
    for (i = 0; i + 4 <= in; i += 4) {
        uint32_t v, lo, hi;
        memcpy(&v, xr + i, 4); /* an unaligned LDR: activation rows need not be word-aligned */
        lo = (uint32_t)__sxtb16((int32_t)v);
        hi = (uint32_t)__sxtb16((int32_t)((v >> 8) | (v << 24))); /* ROR 8: folds into SXTB16 */
        if (simd8) {
            xs_words[i / 2] = (int32_t)lo;
            xs_words[i / 2 + 1] = (int32_t)hi;
        } else {
            xs_words[i / 2] = (int32_t)((lo & 0xFFFFu) | (hi << 16));
            xs_words[i / 2 + 1] = (int32_t)((hi & 0xFFFF0000u) | (lo >> 16));
        }
    }
    for (; i < in; i++) xs[i] = xr[i]; /* int16 path only: in % 4 == 2 */
    {
        /* the requantisation's constants hoisted: a bias load, two QADDs, a shift and clamps
         * per output */
        const int8_t *b8 = q->b != NULL && q->b_bits <= 8 ? (const int8_t *)q->b : NULL;
        const int16_t *b16 = q->b != NULL && q->b_bits > 8 ? (const int16_t *)q->b : NULL;
        const int32_t bs = q->bs, lsh = bs < 0 ? -bs : 0, rsh = bs > 0 ? bs : 0;
        const int32_t bhalf = rsh > 0 ? 1 << (rsh - 1) : 0, rs = q->rs, half = 1 << (rs - 1);
        const int32_t lo = q->act != RCT_ACT_LINEAR ? 0 : -128;
        const int32_t hi = q->act == RCT_ACT_RELU6 && q->upper < 127 ? q->upper : 127;
        for (o = 0; o < out; o += group) {
            const int32_t cnt = out - o < group ? out - o : group;
            int32_t k;
            if (simd8) simd_rows_i8(xs, (const int8_t *)w + o * in, in, cnt, a);
            else {
                const uint64_t pr = simd_pair16(xs, (const int16_t *)w + o * in, in, cnt > 1);
                a[0] = (int32_t)(uint32_t)pr;
                a[1] = (int32_t)(uint32_t)(pr >> 32);
            }
            for (k = 0; k < cnt; k++) {
                const int32_t bq = b16 != NULL ? b16[o + k] : (b8 != NULL ? b8[o + k] : 0);
                const int32_t bal = rct_asr32(bq * (1 << lsh) + bhalf, rsh);
                int32_t v = rct_asr32(__qadd(__qadd(a[k], bal), half), rs);
                v = v > hi ? hi : (v < lo ? lo : v);
                yr[o + k] = (int8_t)v;
            }
        }
    }
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
        /* int16 rows: LDM needs them word-aligned (in even); int8 rows: whole words (in % 4) */
        if (((w_bits > 8 && (in & 1) == 0) || (w_bits <= 8 && (in & 3) == 0)) && in > 0 &&
            acc == RCT_ACC32 && in <= RCT_DENSE_XS_MAX && ((uintptr_t)w & 3u) == 0u) {
            const int32_t rs = y_exp - e, bs = e - b_exp;
            /* bias at the accumulator's exponent in int32: right shifts, or left shifts of the
             * (at most 16-bit) bias by up to 15 */
            if (rs >= 1 && rs <= 24 && (b == NULL || (bs >= -15 && bs <= 30))) {
                const rct_fwd_q_t q = {b, b_bits, bs, rs, act, upper};
                simd_sample(xr, w, w_bits, in, out, &q, yr);
                continue;
            }
        }
#endif
        for (o = 0; o < out; o++) {
            const int64_t v = w_bits <= 8 ? dot_i8(xr, (const int8_t *)w + o * in, in, acc)
                                          : dot_i16(xr, (const int16_t *)w + o * in, in, acc);
            yr[o] = finish(v, b, b_bits, b_exp, o, e, y_exp, act, upper);
        }
    }
}
