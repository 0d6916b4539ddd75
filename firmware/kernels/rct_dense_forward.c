/* Dense forward over weights stored [out][in]: int32/int64 accumulation, bias aligned into the
 * accumulator, round-to-nearest requantisation to the int8 output exponent, fused ReLU/ReLU6
 * (docs/numerics.md). With RCT_FAST_KERNELS on a core with the DSP extension (Cortex-M4/M7),
 * int16 and int8 weights go through SMLAD over a sign-extended copy of the input row on the
 * stack: int16 rows with in % 16 == 0 through one hand-written routine per sample (rows16),
 * others two (int16) or four (int8) outputs per call with the requantisation in C. The portable
 * loops are the reference and give the same integers. */
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

/* rows16: one sample of int16 rows (in % 16 == 0), all its output pairs, in one routine that
 * keeps its state on its own stack, since the dot loop needs all 14 registers: after each row
 * pair one LDM reloads r0-r9 and jumps (pc slot) to the requantisation of the call's
 * activation. Per 8 inputs one LDM of xs and one per row feed 4 SMLADs per row (22
 * instructions per 32 MACs); the loop is unrolled to 64 inputs and entered at the block that
 * leaves a whole number of passes. Each sum starts at init = bias * 2^lsh + half (the bias
 * aligned to the accumulator plus the rounding half), so a pair ends in ASR, SSAT/USAT and
 * STRB: 16 instructions per row pair besides the dot. SMLSD and SMLAD wrap, so the caller takes
 * this path only where rows16_setup has bounded init + sum inside int32. The fields are in the
 * order of the registers they load (ldm r0, {r0-r10, r12}); x and the ReLU6 bound come as
 * arguments. */
typedef struct {
    int8_t *y;           /* r0: the next output pair, stored back after each pair */
    int8_t *y_end;       /* r1: y + (out & ~1), the odd last output if any */
    uintptr_t b;         /* r2: bias - 2 * y, so that the pair's two biases are one word at
                          * r2 + 2 * r0 (no bias: the weights, read and multiplied by 0) */
    uint32_t mneg;       /* r3: -2^lsh in the top halfword (-2^15 fits, 2^15 would not), 0 in
                          * the bottom: SMLSDX/SMLSD subtract bias * -2^lsh from half */
    int32_t half;        /* r4: 2^(rs - 1) */
    int32_t in2;         /* r5: the row stride in bytes */
    int32_t rs;          /* r6: the requantisation shift */
    uint32_t entry;      /* r7: the dot loop's first block, 0..3 (then its address) */
    int16_t *xs;         /* r8: the int16 copy of the row, word-aligned */
    int32_t passes;      /* r9: passes of the dot loop per row pair */
    uint32_t q;          /* pc slot: 0 linear, 1 ReLU (or ReLU6 whose bound is >= 127), 2 ReLU6
                          * (then the address of its requantisation) */
    const int16_t *w;    /* r12: row 0, word-aligned */
} rct_rows16_t;

/* 8 inputs of the row pair: one LDM of xs, one per row, 4 SMLADs per row */
#define RCT_ROWS16_DOT8                                                                          \
    "ldmia r8!, {r0-r3}\n\t"                                                                     \
    "ldmia r12!, {r4-r7}\n\t"                                                                    \
    "smlad r10, r0, r4, r10\n\t"                                                                 \
    "smlad r10, r1, r5, r10\n\t"                                                                 \
    "smlad r10, r2, r6, r10\n\t"                                                                 \
    "smlad r10, r3, r7, r10\n\t"                                                                 \
    "ldmia lr!, {r4-r7}\n\t"                                                                     \
    "smlad r11, r0, r4, r11\n\t"                                                                 \
    "smlad r11, r1, r5, r11\n\t"                                                                 \
    "smlad r11, r2, r6, r11\n\t"                                                                 \
    "smlad r11, r3, r7, r11\n\t"
/* after the outputs are stored: the next pair, or the end */
#define RCT_ROWS16_NEXT                                                                          \
    "cmp r0, r1\n\t"                                                                             \
    "str r0, [sp]\n\t"                                                                           \
    "bne .Lrows16_pair\n\t"                                                                      \
    "add sp, sp, #56\n\t"                                                                        \
    "pop {r4-r11, pc}\n\t"

__attribute__((naked, noipa)) static void rows16(const rct_rows16_t *r __attribute__((unused)),
                                                 const int8_t *x __attribute__((unused)),
                                                 uint32_t hi __attribute__((unused)))
{
    __asm__ volatile(
        "push {r4-r11, lr}\n\t"
        "mov r11, r1\n\t"
        "push {r2}\n\t" /* the ReLU6 bound (bytes 0 and 1) at [sp, #52] */
        "ldm r0, {r0-r10, r12}\n\t"
        "push {r0-r12}\n\t" /* the state at [sp], in register order */
        "adr r0, .Lrows16_at\n\t"
        "ldr r1, [r0, r10, lsl #2]\n\t"
        "str r1, [sp, #40]\n\t"
        "add r7, r7, #3\n\t"
        "ldr r1, [r0, r7, lsl #2]\n\t"
        "str r1, [sp, #28]\n\t"
        /* xs = the row as int16, 16 inputs per pass: SXTB16 gives (x0, x2), (x1, x3), PKHBT and
         * PKHTB the natural order (x0, x1), (x2, x3) of the weight words */
        "add r9, r8, r5\n\t"
        ".Lrows16_copy:\n\t"
        "ldr r1, [r11], #4\n\t"
        "ldr r3, [r11], #4\n\t"
        "ldr r5, [r11], #4\n\t"
        "ldr r7, [r11], #4\n\t"
        "sxtb16 r10, r1\n\t"
        "sxtb16 r1, r1, ror #8\n\t"
        "pkhbt r0, r10, r1, lsl #16\n\t"
        "pkhtb r1, r1, r10, asr #16\n\t"
        "sxtb16 r10, r3\n\t"
        "sxtb16 r3, r3, ror #8\n\t"
        "pkhbt r2, r10, r3, lsl #16\n\t"
        "pkhtb r3, r3, r10, asr #16\n\t"
        "sxtb16 r10, r5\n\t"
        "sxtb16 r5, r5, ror #8\n\t"
        "pkhbt r4, r10, r5, lsl #16\n\t"
        "pkhtb r5, r5, r10, asr #16\n\t"
        "sxtb16 r10, r7\n\t"
        "sxtb16 r7, r7, ror #8\n\t"
        "pkhbt r6, r10, r7, lsl #16\n\t"
        "pkhtb r7, r7, r10, asr #16\n\t"
        "stmia r8!, {r0-r7}\n\t"
        "cmp r8, r9\n\t"
        "bne .Lrows16_copy\n\t"
        "ldm sp, {r0-r9}\n\t"
        "mov lr, r12\n\t"
        /* a row pair: r12 = row o, lr = row o + 1, r10/r11 their sums */
        ".Lrows16_pair:\n\t"
        "ldr r11, [r2, r0, lsl #1]\n\t"
        "mov r12, lr\n\t"
        "add lr, lr, r5\n\t"
        "smlsdx r10, r3, r11, r4\n\t" /* half + bias[o] * 2^lsh */
        "smlsd r11, r11, r3, r4\n\t"  /* half + bias[o + 1] * 2^lsh */
        "bx r7\n\t"
        ".Lrows16_dot0:\n\t" RCT_ROWS16_DOT8 RCT_ROWS16_DOT8
        ".Lrows16_dot1:\n\t" RCT_ROWS16_DOT8 RCT_ROWS16_DOT8
        ".Lrows16_dot2:\n\t" RCT_ROWS16_DOT8 RCT_ROWS16_DOT8
        ".Lrows16_dot3:\n\t" RCT_ROWS16_DOT8 RCT_ROWS16_DOT8
        "subs r9, r9, #1\n\t"
        "bne .Lrows16_dot0\n\t"
        "ldm sp, {r0-r9, pc}\n\t" /* the state back, on to the requantisation */
        ".Lrows16_linear:\n\t"
        "asr r10, r10, r6\n\t"
        "asr r11, r11, r6\n\t"
        "ssat r10, #8, r10\n\t"
        "ssat r11, #8, r11\n\t"
        "strb r10, [r0], #1\n\t"
        "strb r11, [r0], #1\n\t" RCT_ROWS16_NEXT
        ".Lrows16_relu:\n\t"
        "asr r10, r10, r6\n\t"
        "asr r11, r11, r6\n\t"
        "usat r10, #7, r10\n\t"
        "usat r11, #7, r11\n\t"
        "strb r10, [r0], #1\n\t"
        "strb r11, [r0], #1\n\t" RCT_ROWS16_NEXT
        /* ReLU6: both outputs in one halfword, the bound bytewise (USUB8 sets GE where
         * hi >= y, SEL keeps y there) */
        ".Lrows16_relu6:\n\t"
        "asr r10, r10, r6\n\t"
        "asr r11, r11, r6\n\t"
        "ldr r6, [sp, #52]\n\t"
        "usat r10, #7, r10\n\t"
        "usat r11, #7, r11\n\t"
        "orr r10, r10, r11, lsl #8\n\t"
        "usub8 r11, r6, r10\n\t"
        "sel r10, r10, r6\n\t"
        "strh r10, [r0], #2\n\t" RCT_ROWS16_NEXT
        ".p2align 2\n"
        ".Lrows16_at:\n\t" /* Thumb addresses (bit 0 set): by q, then by entry */
        ".word .Lrows16_linear + 1, .Lrows16_relu + 1, .Lrows16_relu6 + 1\n\t"
        ".word .Lrows16_dot0 + 1, .Lrows16_dot1 + 1, .Lrows16_dot2 + 1, .Lrows16_dot3 + 1\n\t");
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

/* The requantisation of one call for simd_sample, in 32-bit saturating arithmetic. Exact when
 * 1 <= rs <= 24: a sum that saturates int32 still lands beyond the int8 range after the shift,
 * as the int64 one would; the bias moves to the accumulator's exponent by bs (a left shift of
 * at most 15 for a 16-bit bias, or a rounded right shift). */
typedef struct {
    const void *b;
    int32_t b_bits, bs, rs;
    rct_act_t act;
    int32_t upper;
} rct_fwd_q_t;

/* Four inputs as one word, any alignment (an unaligned LDR: activation rows need not be
 * word-aligned), and the word rotated by 8, which folds into SXTB16: SXTB16 of v and of ror8(v)
 * gives (x0, x2) and (x1, x3), the order the int8-weight path reads; the int16 one repacks
 * them into the natural order (x0, x1), (x2, x3) of the weight words (two PKHs). */
RCT_HOT_INLINE uint32_t ld32(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

RCT_HOT_INLINE uint32_t ror8(uint32_t v) { return (v >> 8) | (v << 24); }

/* One sample through the SIMD path: the input row sign-extended once into xs, then the outputs
 * two (int16 rows) or four (int8 rows) at a time, each finished in 32-bit. Out of line so that
 * its loop state stays in registers. */
RCT_NOINLINE static void simd_sample(int32_t *xs_words, const int8_t *xr, const void *w,
                                     int32_t w_bits, int32_t in, int32_t out,
                                     const rct_fwd_q_t *q, int8_t *yr)
{
    int16_t *xs = (int16_t *)(void *)xs_words;
    const int simd8 = w_bits <= 8, group = simd8 ? 4 : 2;
    int32_t a[4], i, o;
    /* the row as int16, in the order each weight type reads (one loop each: a test inside
     * costs more than the loop) */
    if (simd8) {
        for (i = 0; i + 4 <= in; i += 4) {
            const uint32_t v = ld32(xr + i);
            xs_words[i / 2] = __sxtb16((int32_t)v);
            xs_words[i / 2 + 1] = __sxtb16((int32_t)ror8(v));
        }
    } else {
        for (i = 0; i + 4 <= in; i += 4) {
            const uint32_t v = ld32(xr + i), lo = (uint32_t)__sxtb16((int32_t)v);
            const uint32_t hi = (uint32_t)__sxtb16((int32_t)ror8(v));
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

/* Fills r's per-call fields and returns 1 when the call qualifies for rows16 (past the SIMD
 * gate: in <= 256, 1 <= rs <= 24, bias shift >= -15): int16 rows, in % 16 == 0, at least one
 * output pair, no bias or a 16-bit one at most 15 bits left of the accumulator (a bias finer
 * than the accumulator, rounded right, takes simd_sample), and a bound that init + sum cannot
 * leave int32 (SMLSD and SMLAD wrap where simd_sample saturates): |x w| <= d = 2^(w_bits + 6)
 * as for RCT_ACC32, init = bias * m + half over the int16 range, so the sums lie in
 * [half - 2^15 m - in d, half + (2^15 - 1) m + in d]. No term exceeds 2^30 here, so the bound
 * is exact in uint32. It fails only for 16-bit weights at in = 256, lsh 15, rs >= 16. */
static int rows16_setup(rct_rows16_t *r, int32_t *xs, const void *w, int32_t w_bits,
                        const void *b, int32_t b_bits, int32_t bs, int32_t rs, int32_t in,
                        int32_t out, rct_act_t act, int32_t upper)
{
    const uint32_t half = 1u << (rs - 1);
    uint32_t m, dot;
    if (w_bits <= 8 || w_bits > 16 || (in & 15) != 0 || out < 2) return 0;
    if (b != NULL && (b_bits <= 8 || bs > 0)) return 0;
    m = b != NULL ? 1u << -bs : 0u;
    dot = (uint32_t)in << (w_bits + 6);
    if (half + 32767u * m + dot > (uint32_t)INT32_MAX || 32768u * m + dot > (1u << 31) + half)
        return 0;
    r->mneg = (0u - m) << 16;
    r->half = (int32_t)half;
    r->in2 = 2 * in;
    r->rs = rs;
    r->entry = (uint32_t)-(in >> 4) & 3u; /* 64 - in % 64 inputs skipped in the first pass */
    r->xs = (int16_t *)(void *)xs;
    r->passes = (in + 63) >> 6;
    r->q = act == RCT_ACT_LINEAR ? 0u : (act == RCT_ACT_RELU6 && upper < 127 ? 2u : 1u);
    r->w = (const int16_t *)w;
    return 1;
}

/* The odd last row after rows16, over its xs: the same init, shift and clamps, in C. */
RCT_NOINLINE static void rows16_last(const rct_rows16_t *r, const int16_t *b, int32_t bs,
                                     int32_t in, int32_t o, int32_t upper)
{
    const int32_t init = (b != NULL ? b[o] * (1 << -bs) : 0) + r->half;
    const int32_t a = (int32_t)(uint32_t)simd_pair16(r->xs, r->w + o * in, in, 0);
    const int32_t lo = r->q == 0u ? -128 : 0, hi = r->q == 2u ? upper : 127;
    const int32_t v = rct_asr32(a + init, r->rs); /* no wrap: rows16_setup's bound */
    r->y_end[0] = (int8_t)(v > hi ? hi : (v < lo ? lo : v));
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
#ifdef RCT_DENSE_SIMD
    const int32_t rs = y_exp - e, bs = e - b_exp;
    /* the SIMD paths: the bias at the accumulator's exponent in int32 (right shifts, or left
     * shifts of the at most 16-bit bias by up to 15), rows16 where it can, else simd_sample */
    if (acc == RCT_ACC32 && in > 0 && in <= RCT_DENSE_XS_MAX && ((uintptr_t)w & 3u) == 0u &&
        rs >= 1 && rs <= 24 && (b == NULL || (bs >= -15 && bs <= 30))) {
        int32_t xs[RCT_DENSE_XS_MAX / 2]; /* the row as int16; int32 storage: word-aligned */
        rct_rows16_t r;
        if (rows16_setup(&r, xs, w, w_bits, b, b_bits, bs, rs, in, out, act, upper)) {
            for (s = 0; s < n; s++) {
                r.y = y + s * out;
                r.y_end = r.y + (out & ~1);
                r.b = (uintptr_t)(b != NULL ? b : w) - 2u * (uintptr_t)r.y;
                rows16(&r, x + s * in, (uint32_t)upper * 0x0101u);
                if (out & 1) rows16_last(&r, (const int16_t *)b, bs, in, out - 1, upper);
            }
            return;
        }
        /* int16 rows: LDM needs them word-aligned (in even); int8 rows: whole words (in % 4) */
        if ((w_bits > 8 && (in & 1) == 0) || (w_bits <= 8 && (in & 3) == 0)) {
            const rct_fwd_q_t q = {b, b_bits, bs, rs, act, upper};
            for (s = 0; s < n; s++)
                simd_sample(xs, x + s * in, w, w_bits, in, out, &q, y + s * out);
            return;
        }
    }
#endif
    for (s = 0; s < n; s++) {
        const int8_t *xr = x + s * in;
        int8_t *yr = y + s * out;
        for (o = 0; o < out; o++) {
            const int64_t v = w_bits <= 8 ? dot_i8(xr, (const int8_t *)w + o * in, in, acc)
                                          : dot_i16(xr, (const int16_t *)w + o * in, in, acc);
            yr[o] = finish(v, b, b_bits, b_exp, o, e, y_exp, act, upper);
        }
    }
}
