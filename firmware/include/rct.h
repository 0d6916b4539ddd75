/* rct.h — the one public header of the hand-written integer training runtime (C99, no heap,
 * no floats, no recursion). Each function below lives in its own file under firmware/kernels/
 * or firmware/runtime/ and has a numpy twin in rct_tflm/fixedpoint/kernels/ with the same
 * argument order and semantics; tests compare the two integer by integer. The numeric rules
 * (rounding, exponents, accumulator bounds) are in docs/numerics.md.
 *
 * Conventions
 *  - Activations: int8, NHWC (dense: [n][features]), row-major, one static power-of-two
 *    exponent per tensor (real = q * 2^exp). n is the number of samples in the call.
 *  - Errors (gradients w.r.t. activations): int16 with a per-tensor exponent; the
 *    backward-input kernels choose it from the intermediate's max |value| and return it.
 *  - Weights, row-major: dense [out][in] (the transpose of Keras' [in][out]: each output's
 *    weights are contiguous for the forward GEMM), conv2d [kh][kw][cin][cout], depthwise
 *    [kh][kw][cin][depth_multiplier]; bias [channels]. Read-only kernels take a raw pointer plus
 *    `w_bits`, which only selects the container: int8_t when w_bits <= 8 (frozen `const int8_t`
 *    tables), int16_t otherwise. Trainable tensors always live in int16_t (rct_tensor_t), so the
 *    generated code passes 16 for them whatever their bitwidth.
 *  - Shifts/exponents are int32_t; a negative right shift is an exact (saturating) left shift.
 *  - Signed right shifts go through rct_asr64 (floor, well-defined); left shifts through
 *    multiplication, so no kernel relies on implementation-defined or undefined shifts.
 */
#ifndef RCT_H
#define RCT_H

#include <stdint.h>
#include <string.h>

/* RCT_DSP: the Cortex-M4/M7 DSP paths of the conv/depthwise kernels (SMLAxy, SMLALD, SXTB16).
 * Chosen at build time: the build defines RCT_FAST_KERNELS for Cortex-M4/M7 boards. Every kernel
 * keeps a portable C path computing the same integers (host builds, and cores without DSP). */
#if defined(RCT_FAST_KERNELS) && defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#define RCT_DSP 1
#include <arm_acle.h>
#else
#define RCT_DSP 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- types ---------------- */

/* Contract PRNG (rct_tflm/fixedpoint/prng.py): word(c) = mix32(mix32(key) + c), c = counter++.
 * Stochastic rounding takes 16-bit uniforms, two per word (rct_prng_u16). The controller re-keys
 * it at every period boundary: key += RCT_PRNG_REKEY_STRIDE, counter = 0. */
#define RCT_PRNG_REKEY_STRIDE 0x9E3779B9u
typedef struct {
    uint32_t key;
    uint32_t counter;
} rct_prng_t;

/* A trainable weight tensor in RAM: int16_t values whatever the bitwidth (the storage is sized
 * for the largest bitwidth anyway; one container keeps the kernels free of per-element
 * branches). Elements are in device order (dense: [out][in]). */
typedef struct {
    int16_t *data;
    int32_t  size;
    int16_t  exp;   /* real = q * 2^exp */
    uint8_t  bits;  /* current bitwidth, 2..16 */
    uint8_t  pad_;  /* reserved, 0 */
} rct_tensor_t;

/* Fused activation of dense/conv layers (applied on the requantised int8 output). */
typedef enum {
    RCT_ACT_LINEAR = 0,
    RCT_ACT_RELU = 1,
    RCT_ACT_RELU6 = 2
} rct_act_t;

/* Forward accumulator policy, chosen per layer by the generator (rct_tflm.fixedpoint.kernels.
 * accum.needs_int64): RCT_ACC32 requires fan_in * 2^(w_bits_max + 6) <= 2^31 - 1. */
typedef enum {
    RCT_ACC32 = 0,
    RCT_ACC64 = 1
} rct_acc_t;

/* Geometry of a conv2d / depthwise_conv2d / pooling layer (Keras/TF conventions). Fill it with
 * rct_tflm.fixedpoint.kernels.shapes.conv_shape(): 'same' padding gives out = ceil(in/stride),
 * pad_total = max((out-1)*stride + k - in, 0), pad_top = pad_total/2 (the extra row goes to the
 * bottom/right); 'valid' gives out = (in - k)/stride + 1 and zero padding. Padded taps read 0 (conv)
 * or are skipped (pools). For pools, k_h/k_w is the pool size and out_c = in_c. */
typedef struct {
    int32_t n;                 /* samples in the call */
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t depth_multiplier;  /* depthwise only (out_c = in_c * depth_multiplier), else 1 */
} rct_conv_shape_t;

/* Bitwidth controller (rct_tflm/fixedpoint/controller.py), integer decisions. */
typedef struct {
    int32_t  t_min_q16;       /* round(T_min * 2^16) */
    int32_t  t_max_q16;       /* round(T_max * 2^16) */
    uint32_t sat_guard_ppm;   /* round(sat_guard * 10^6) */
    uint32_t period_samples;  /* >= 512 */
    uint32_t gavg_ref_samples; /* 0: Gavg = per-step mean sum // steps (the paper's rule);
                                * N (1..65535): Gavg accumulated over N samples,
                                * floor(sum * N / samples in the period) */
    uint8_t  bits_min;
    uint8_t  bits_max;
    uint8_t  enabled;         /* 0: never change bitwidths (fixed-bitwidth baseline) */
    uint8_t  pad_;
} rct_ctrl_config_t;

typedef struct {
    int64_t  gavg_sum_q16;  /* sum of observed Gavg (Q16.16) in the current period */
    uint32_t steps;         /* observations in the current period */
    uint8_t  bits_max;      /* min(per-tensor cap, config bits_max) */
    uint8_t  pad_[3];
} rct_ctrl_slot_t;

typedef struct {
    rct_ctrl_config_t cfg;
    rct_ctrl_slot_t  *slots;        /* one per trainable tensor, registration order */
    int32_t           n_slots;
    uint32_t          samples;       /* samples counted so far */
    uint32_t          next_decision; /* sample count of the next period boundary */
    uint32_t          period_start;  /* sample count at the last decision */
} rct_controller_t;

typedef enum {
    RCT_ACTION_ADD_LOW = 1,
    RCT_ACTION_DROP_LOW = 2,
    RCT_ACTION_ADD_HIGH = 3
} rct_action_t;

typedef struct {
    uint32_t sample;       /* controller sample count at the decision */
    int32_t  tensor;       /* slot index */
    int32_t  action;       /* rct_action_t */
    int32_t  bits_before, bits_after;
    int32_t  exp_before, exp_after;
    int32_t  gavg_q16;     /* the period's Gavg statistic (cfg.gavg_ref_samples; saturated to int32) */
    uint32_t saturated;    /* elements at either end of the range before the change */
} rct_decision_t;

/* -------------------------------------------------------- inline helpers ---------------- */

/* Helpers that sit in per-weight loops: inlined even at -Os, where GCC would otherwise call
 * them (a call and return cost as much as the helper itself). */
#if defined(__GNUC__)
#define RCT_HOT_INLINE static inline __attribute__((always_inline))
#define RCT_NOINLINE __attribute__((noinline)) /* a hot loop kept out of a busy caller */
#define RCT_ALIGNED4 __attribute__((aligned(4)))   /* tables read by whole words */
#else
#define RCT_ALIGNED4
#define RCT_HOT_INLINE static inline
#define RCT_NOINLINE
#endif

#define RCT_GAVG_FRAC_BITS 16
#define RCT_ERR_BITS 16          /* error tensors are int16 */
#define RCT_CE_GRAD_EXP (-15)    /* softmax+CE gradient p - onehot is int16 at exponent -15 */
#define RCT_CE_LOSS_FRAC_BITS 16 /* loss is Q16.16 */
/* Weight-gradient sums of at most this many x * dz terms (|x dz| <= 2^22) are exact in int32:
 * 511 * 2^22 < 2^31 (docs/numerics.md "Accumulator bounds"). */
#define RCT_GRAD32_MAX_TERMS 511

/* floor(v / 2^s) for 0 <= s <= 63, without relying on implementation-defined >> of negatives. */
RCT_HOT_INLINE int64_t rct_asr64(int64_t v, int32_t s)
{
    return v < 0 ? ~((~v) >> s) : (v >> s);
}

/* floor(v / 2^s) for 0 <= s <= 31 (the int32 twin of rct_asr64; compiles to one ASR). */
RCT_HOT_INLINE int32_t rct_asr32(int32_t v, int32_t s)
{
    return v < 0 ? ~((~v) >> s) : (v >> s);
}

/* v * 2^k for 0 <= k, clipped first to |v| <= 2^(62-k) (k capped at 62), so |result| <= 2^62. */
static inline int64_t rct_shl_sat64(int64_t v, int32_t k)
{
    int64_t lim;
    if (k > 62) k = 62;
    lim = (int64_t)1 << (62 - k);
    if (v > lim) v = lim;
    if (v < -lim) v = -lim;
    return v * ((int64_t)1 << k);
}

/* Contract round-to-nearest shift for |v| <= 2^62: s >= 1: floor((v + 2^(s-1)) / 2^s) (ties to
 * +inf; s >= 63 gives 0); s <= 0: rct_shl_sat64(v, -s). */
static inline int64_t rct_round_nearest64(int64_t v, int32_t s)
{
    if (s <= 0) return rct_shl_sat64(v, -s);
    if (s >= 63) return 0;
    return rct_asr64(v + ((int64_t)1 << (s - 1)), s);
}

/* Clip to the signed range of `bits` bits (1..63). */
static inline int64_t rct_sat64(int64_t v, int32_t bits)
{
    const int64_t hi = ((int64_t)1 << (bits - 1)) - 1;
    const int64_t lo = -hi - 1;
    return v > hi ? hi : (v < lo ? lo : v);
}

/* Element i of a read-only weight table in the container of `bits` (int8 if bits <= 8). */
static inline int32_t rct_wload(const void *w, int32_t bits, int32_t i)
{
    return bits <= 8 ? (int32_t)((const int8_t *)w)[i] : (int32_t)((const int16_t *)w)[i];
}

/* 32-bit little-endian load of 2 int16 / 4 int8 elements, any alignment (one LDR on Cortex-M4). */
static inline int32_t rct_ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Taps [*lo, *hi) of a window at output position o (stride, pad, window k) inside an input of
 * `in` elements: 0 <= o * stride - pad + t < in. */
static inline void rct_tap_range(int32_t o, int32_t stride, int32_t pad, int32_t k, int32_t in,
                                 int32_t *lo, int32_t *hi)
{
    const int32_t base = o * stride - pad;
    *lo = base < 0 ? -base : 0;
    *hi = in - base < k ? in - base : k;
}

/* Output positions [*lo, *hi) (of `out`) whose window tap t falls inside the input. */
static inline void rct_out_range(int32_t t, int32_t stride, int32_t pad, int32_t in, int32_t out,
                                 int32_t *lo, int32_t *hi)
{
    const int32_t a = pad - t, b = in - 1 + pad - t; /* need a <= o * stride <= b */
    *lo = a > 0 ? (a + stride - 1) / stride : 0;
    *hi = b < 0 ? 0 : b / stride + 1;
    if (*hi > out) *hi = out;
    if (*lo > *hi) *lo = *hi;
}

/* Backward (gather) form: the taps t of the windows that contain input element i, o_num = i + pad:
 * t in [*t0, *t1) stepping by stride, each with output o = (o_num - t) / stride in [0, out). */
static inline void rct_back_taps(int32_t o_num, int32_t stride, int32_t k, int32_t out,
                                 int32_t *t0, int32_t *t1)
{
    int32_t lo = o_num - (out - 1) * stride; /* smallest tap with o <= out - 1 */
    if (lo < 0) lo = 0;
    *t0 = lo + (o_num - lo) % stride;        /* o_num - t divisible by stride */
    *t1 = o_num + 1 < k ? o_num + 1 : k;     /* o >= 0 */
}

/* Max-pool window argmax storage: element o's window index (kh * k_w + kw) takes
 * RCT_ARGMAX_BITS(taps) bits (2 for windows of up to 4 taps, 4 up to 16, else 8; taps <= 256) at
 * bit o * bits of a byte array, low bits first; RCT_ARGMAX_BYTES(count, taps) bytes in all. */
#define RCT_ARGMAX_BITS(taps) ((taps) <= 4 ? 2 : ((taps) <= 16 ? 4 : 8))
#define RCT_ARGMAX_BYTES(count, taps) (((count) * RCT_ARGMAX_BITS(taps) + 7) / 8)

/* Upper clamp of ReLU6 on an int8 tensor at exponent e: 6 * 2^-e rounded to nearest, capped at
 * 128 (128 means "no clamp below the int8 maximum"). */
static inline int32_t rct_relu6_upper(int32_t e)
{
    int64_t u = rct_round_nearest64(6, e);
    return u > 128 ? 128 : (int32_t)u;
}

/* lowbias32 (C. Wellons); all arithmetic is uint32_t, i.e. mod 2^32. */
RCT_HOT_INLINE uint32_t rct_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* The 16-bit uniform of element k of a block starting at counter c0, for base = mix32(key):
 * the low half of word c0 + k/2 for even k, the high half for odd k. Position-only, so a kernel
 * may visit elements in any order or skip those whose update is known to be zero. */
RCT_HOT_INLINE uint32_t rct_prng_u16(uint32_t base, uint32_t c0, int32_t k)
{
    const uint32_t w = rct_mix32(base + c0 + ((uint32_t)k >> 1));
    return (k & 1) ? (w >> 16) : (w & 0xFFFFu);
}

/* Counter after a block of `size` elements that drew (ceil(size / 2) words). */
static inline uint32_t rct_prng_after(uint32_t c0, int32_t size)
{
    return c0 + ((uint32_t)size + 1u) / 2u;
}

/* Contract stochastic shift of v (|v| <= 2^62) by s >= 1 with the 16-bit uniform u16:
 * r = u16 << 16; floor((v + (r >> (32 - min(s,31)))) / 2^min(s,31)), then an exact floor shift
 * by s - min(s,31). s <= 0: rct_shl_sat64(v, -s) (the caller draws nothing). */
static inline int64_t rct_sr64(int64_t v, int32_t s, uint32_t u16)
{
    int32_t s1, rest;
    int64_t out;
    if (s <= 0) return rct_shl_sat64(v, -s);
    s1 = s < 31 ? s : 31;
    out = rct_asr64(v + (int64_t)((u16 << 16) >> (32 - s1)), s1);
    rest = s - s1;
    if (rest >= 63) return out < 0 ? -1 : 0;
    return rct_asr64(out, rest);
}

/* Round-to-nearest a / c for c > 0, ties to +inf: floor((2a + c) / (2c)); |a| <= 2^61. */
static inline int64_t rct_div_round64(int64_t a, int64_t c)
{
    const int64_t num = 2 * a + c, den = 2 * c;
    int64_t q = num / den;
    if (num % den != 0 && num < 0) q -= 1;
    return q;
}

/* Common exponent of two operands of a sum: the finer one's, unless more than 16 below the
 * coarser one's (then the finer operand is rounded onto 2^(coarser - 16)). */
static inline int32_t rct_align_exp(int32_t ea, int32_t eb)
{
    const int32_t lo = ea < eb ? ea : eb, hi = ea < eb ? eb : ea;
    return lo > hi - 16 ? lo : hi - 16;
}

/* Magnitude used by the dynamic error exponent: v for v >= 0, -v - 1 for v < 0. */
static inline int64_t rct_err_mag(int64_t v)
{
    return v < 0 ? ~v : v;
}

/* Right shift that brings magnitudes <= m into int16: max(0, bitlen(m) - 15). */
static inline int32_t rct_err_shift(int64_t m)
{
    int32_t b = 0;
    while (m > 0) { m >>= 1; b++; }
    return b > 15 ? b - 15 : 0;
}

/* Forward output rule shared by dense/conv/depthwise: v is the int64 sum at exponent e (bias
 * already added); returns act(sat8(round_nearest(v, y_exp - e))) with `upper` from
 * rct_relu6_upper(y_exp) for ReLU6 (ignored otherwise). */
static inline int8_t rct_out_i8(int64_t v, int32_t shift, rct_act_t act, int32_t upper)
{
    v = rct_sat64(rct_round_nearest64(v, shift), 8);
    if (act != RCT_ACT_LINEAR) {
        if (v < 0) v = 0;
        if (act == RCT_ACT_RELU6 && v > upper) v = upper;
    }
    return (int8_t)v;
}

/* ---------------------------------------------------------------- runtime --------------- */

/* rct_err_stream.c: the dynamic int16 error exponent in one pass over the exact int64 values
 * (backward-input kernels; docs/numerics.md "Backward and update"). Element i is kept as
 * t = floor(v_i / 2^a), a = max(0, bitlen(running max) - 16), a 17-bit integer: its low 16 bits
 * in dx[i], its sign (bit 16) in a bitmap of RCT_ERR_STREAM_EXTRA(count) int16 words after
 * dx[count - 1], so dx must have room for count + RCT_ERR_STREAM_EXTRA(count) int16. A grown
 * `a` re-floors the stored prefix (floors compose exactly); rct_err_stream_finish then writes
 * dx = sat16(round_nearest(v, shift)), shift = max(0, bitlen(max) - 15) = a or a + 1, exactly
 * as the two-pass rule, and returns shift. */
#define RCT_ERR_STREAM_EXTRA(count) (((count) + 15) / 16)
typedef struct {
    int16_t *dx;
    int32_t  count, i, a;
    int64_t  m;
} rct_err_stream_t;
void    rct_err_stream_begin(rct_err_stream_t *e, int16_t *dx, int32_t count);
void    rct_err_stream_put(rct_err_stream_t *e, int64_t v);   /* next element, |v| <= 2^62 */
int32_t rct_err_stream_finish(rct_err_stream_t *e);

/* rct_prng.c */
void     rct_prng_seed(rct_prng_t *r, uint32_t seed);           /* key = seed, counter = 0 */
uint32_t rct_prng_next(rct_prng_t *r);                          /* one word, counter += 1 */
void     rct_prng_rekey(rct_prng_t *r, uint32_t times);          /* key += times * STRIDE, counter = 0 */

/* rct_round.c: rct_sr64 on a block of `count` values in place, element k taking uniform k of the
 * block at r's counter (which then advances by ceil(count/2)); s <= 0 draws nothing. */
void rct_round_stochastic_block(int64_t *v, int32_t count, int32_t s, rct_prng_t *r);

/* rct_gavg_q16.c: floor(abs_sum * 2^(16 - sh) / size) exactly, saturated to INT32_MAX; 0 when
 * size <= 0 or abs_sum == 0. abs_sum = sum |g| < 2^62. */
int32_t rct_gavg_q16(int64_t abs_sum, int32_t size, int32_t sh);

/* rct_update_elem.c: one element of rct_update: returns sat_bits(q + round(-g, sh)) with the
 * element's 16-bit uniform u16 (used iff stochastic and sh >= 1). */
int32_t rct_update_elem(int32_t q, int32_t g, int32_t sh, int32_t bits, int32_t stochastic,
                        uint32_t u16);

/* rct_update_block.c: the update of weights k .. k+nb-1 (device order) of a tensor from their
 * exact int32 gradients g[0..nb) — identical to rct_update_elem with rct_prng_u16 per element
 * (uniforms by position, so blocks may come in any order). With fast32 (stochastic, 1 <= sh <= 30
 * and |g| <= g_bound where g_bound + 2^sh <= INT32_MAX) the rounding runs in int32 and a zero
 * gradient, whose step floor(r / 2^sh) is 0, is skipped. Returns sum |g| of the block. The
 * caller sets r->counter = rct_prng_after(c0, size) afterwards when stochastic and sh >= 1. */
typedef struct {
    int32_t  sh, bits, stochastic, fast32;
    uint32_t base, c0; /* mix32(key), the tensor's first counter */
} rct_update_cfg_t;
void    rct_update_cfg(rct_update_cfg_t *u, const rct_tensor_t *t, int32_t sh, int32_t stochastic,
                       const rct_prng_t *r, int64_t g_bound); /* g_bound < 0: no 32-bit path */
int64_t rct_update_block(int16_t *q, int32_t k, const int32_t *g, int32_t nb,
                         const rct_update_cfg_t *u);

/* rct_bitwidth.c: bit changes of a trainable tensor, in place (docs/numerics.md "Bit changes"). */
void     rct_add_low_bit(rct_tensor_t *t);                    /* q = 2q, exp-1, bits+1 */
/* q = sat(SR(q/2)), exp+1, bits-1; one uniform per element, device order */
void     rct_drop_low_bit(rct_tensor_t *t, rct_prng_t *r);
void     rct_add_high_bit(rct_tensor_t *t);                   /* bits+1 */
uint32_t rct_saturated_count(const rct_tensor_t *t);          /* elements at qmin or qmax */

/* rct_controller.c: identical decisions to BitwidthController (order of checks, registration
 * order, integer mean gavg_sum // steps, ppm guard sat*10^6 > ppm*size). `bits_max` (may be NULL)
 * holds per-tensor caps; slot cap = min(cap, cfg->bits_max). */
void    rct_controller_init(rct_controller_t *c, const rct_ctrl_config_t *cfg,
                            rct_ctrl_slot_t *slots, const uint8_t *bits_max, int32_t n_slots);
void    rct_controller_observe(rct_controller_t *c, int32_t slot, int32_t gavg_q16);
/* Count n_samples; when the count reaches or passes period boundaries, decide once for every
 * slot (tensors[i] is slot i), apply in place (drop_low_bit draws from r), then re-key r once per
 * boundary crossed (also when nothing changed or cfg.enabled is 0); write up to max_out
 * decisions to out (may be NULL) and return how many were made (also those beyond max_out). */
int32_t rct_controller_advance(rct_controller_t *c, uint32_t n_samples, rct_tensor_t *tensors,
                               rct_prng_t *r, rct_decision_t *out, int32_t max_out);

/* ---------------------------------------------------------------- kernels --------------- */

/* Forward of dense: acc = sum_i x[s][i]*w[o][i] (int32 or int64 per `acc`) at exponent
 * e = x_exp + w_exp; v = acc + align(b[o]) where align moves b from b_exp to e (round-nearest
 * if b_exp < e, else saturating left shift); y = act(sat8(round_nearest(v, y_exp - e))).
 * b may be NULL (no bias). */
void rct_dense_forward(const int8_t *x, int32_t x_exp,
                       const void *w, int32_t w_bits, int32_t w_exp,
                       const void *b, int32_t b_bits, int32_t b_exp,
                       int8_t *y, int32_t y_exp,
                       int32_t n, int32_t in, int32_t out, rct_act_t act, rct_acc_t acc);

/* Error w.r.t. the input: v[s][i] = sum_o w[o][i]*dz[s][o] (int64) at exponent w_exp + dz_exp;
 * shift = max(0, bitlen(max|v|) - 15); dx = sat16(round_nearest(v, shift)).
 * Returns dx_exp = w_exp + dz_exp + shift. dz is the error after the activation mask. */
int32_t rct_dense_backward_input(const int16_t *dz, int32_t dz_exp,
                                 const void *w, int32_t w_bits, int32_t w_exp,
                                 int16_t *dx, int32_t n, int32_t in, int32_t out);

/* Weight gradient in device order: g[o][i] = sat32(g[o][i] + sum_s x[s][i]*dz[s][o]) (int64 sum).
 * Exponent of g: x_exp + dz_exp (callers accumulating over calls keep it equal). */
void rct_dense_backward_weight(const int8_t *x, const int16_t *dz, int32_t n, int32_t in,
                               int32_t out, int32_t *g);

/* Bias gradient: g[c] = sat32(g[c] + sum_r dz[r][c]) over rows r < rows (rows = n * out_h *
 * out_w for conv). Exponent of g: dz_exp. */
void rct_bias_backward(const int16_t *dz, int32_t rows, int32_t channels, int32_t *g);

/* The RCT update, shared by all parametric tensors: sh = t->exp + lr_shift - g_exp;
 * step = round(-g, sh) (stochastic: rct_sr64 with element k's uniform of the block at r's
 * counter, iff sh >= 1, which then advances by ceil(size/2); nearest if stochastic == 0);
 * q = sat_bits(q + step).
 * Returns gavg_q16 = floor(sum|g| * 2^(16 - sh) / size), computed exactly in integers and
 * saturated to INT32_MAX (docs/numerics.md). */
int32_t rct_update(rct_tensor_t *t, const int32_t *g, int32_t g_exp, int32_t lr_shift,
                   int32_t stochastic, rct_prng_t *r);

/* Fused batch-`n` backward-weight + update of a dense kernel without a gradient buffer:
 * identical to zeroing g, rct_dense_backward_weight, then rct_update with g_exp = x_exp + dz_exp.
 * Call after rct_dense_backward_input (which must see the old weights). */
int32_t rct_dense_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                  const int16_t *dz, int32_t dz_exp, int32_t n, int32_t in,
                                  int32_t out, int32_t lr_shift, int32_t stochastic,
                                  rct_prng_t *r);

/* Fused bias gradient + update: identical to zeroing g, rct_bias_backward, rct_update with
 * g_exp = dz_exp. */
int32_t rct_bias_backward_update(rct_tensor_t *b, const int16_t *dz, int32_t dz_exp,
                                 int32_t rows, int32_t channels, int32_t lr_shift,
                                 int32_t stochastic, rct_prng_t *r);

/* Conv2D forward, NHWC, kernel [kh][kw][cin][cout]; same quantisation as rct_dense_forward with
 * fan_in = k_h * k_w * in_c (padding taps contribute 0). */
void rct_conv2d_forward(const int8_t *x, int32_t x_exp,
                        const void *w, int32_t w_bits, int32_t w_exp,
                        const void *b, int32_t b_bits, int32_t b_exp,
                        int8_t *y, int32_t y_exp, const rct_conv_shape_t *sh,
                        rct_act_t act, rct_acc_t acc);

/* Conv2D error w.r.t. the input (int64 gather over taps and cout), normalised like
 * rct_dense_backward_input; returns dx_exp. */
int32_t rct_conv2d_backward_input(const int16_t *dz, int32_t dz_exp,
                                  const void *w, int32_t w_bits, int32_t w_exp,
                                  int16_t *dx, const rct_conv_shape_t *sh);

/* Conv2D weight gradient g[kh][kw][ci][co] = sat32(g + sum_{s,oh,ow} x*dz) (int64 sum). */
void rct_conv2d_backward_weight(const int8_t *x, const int16_t *dz, const rct_conv_shape_t *sh,
                                int32_t *g);

/* Exact int64 gradient of one conv2d kernel element over samples and positions (helper of the
 * buffered and fused backward-weight kernels). */
int64_t rct_conv2d_weight_grad(const int8_t *x, const int16_t *dz, const rct_conv_shape_t *sh,
                               int32_t kh, int32_t kw, int32_t ci, int32_t co);

/* Fused conv2d backward-weight + update (see rct_dense_backward_update). */
int32_t rct_conv2d_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                   const int16_t *dz, int32_t dz_exp,
                                   const rct_conv_shape_t *sh, int32_t lr_shift,
                                   int32_t stochastic, rct_prng_t *r);

/* DepthwiseConv2D, kernel [kh][kw][cin][dm], output channel oc = ci * dm + m (TF order). */
void rct_depthwise_conv2d_forward(const int8_t *x, int32_t x_exp,
                                  const void *w, int32_t w_bits, int32_t w_exp,
                                  const void *b, int32_t b_bits, int32_t b_exp,
                                  int8_t *y, int32_t y_exp, const rct_conv_shape_t *sh,
                                  rct_act_t act, rct_acc_t acc);
int32_t rct_depthwise_conv2d_backward_input(const int16_t *dz, int32_t dz_exp,
                                            const void *w, int32_t w_bits, int32_t w_exp,
                                            int16_t *dx, const rct_conv_shape_t *sh);
void rct_depthwise_conv2d_backward_weight(const int8_t *x, const int16_t *dz,
                                          const rct_conv_shape_t *sh, int32_t *g);
int64_t rct_depthwise_conv2d_weight_grad(const int8_t *x, const int16_t *dz,
                                         const rct_conv_shape_t *sh, int32_t kh, int32_t kw,
                                         int32_t ci, int32_t m);
int32_t rct_depthwise_conv2d_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                             const int16_t *dz, int32_t dz_exp,
                                             const rct_conv_shape_t *sh, int32_t lr_shift,
                                             int32_t stochastic, rct_prng_t *r);

/* ReLU / ReLU6 on int8 (exponent unchanged): y = min(max(x, 0), upper) with upper = 127 for
 * ReLU and rct_relu6_upper(exp) for ReLU6 (x and y may alias). */
void rct_relu_forward(const int8_t *x, int8_t *y, int32_t count, int32_t upper);

/* Activation mask on the error, in place: dy[i] = 0 unless 0 < y[i] < upper, where y is the
 * activation's int8 OUTPUT; upper = 128 for ReLU (no upper cut), rct_relu6_upper(exp) for
 * ReLU6. Also used for fused activations of dense/conv before their backward kernels. */
void rct_relu_backward(const int8_t *y, int16_t *dy, int32_t count, int32_t upper);

/* MaxPool2D (exponent unchanged; padding taps skipped; windows always hold >= 1 valid tap).
 * arg (may be NULL: inference) receives per output the window index kh * k_w + kw of the first
 * maximum in scan order (k_h * k_w <= 256), packed as RCT_ARGMAX_BITS; the backward routes by
 * it. */
void rct_maxpool2d_forward(const int8_t *x, int8_t *y, uint8_t *arg, const rct_conv_shape_t *sh);
/* Routes each dy to the first maximum of its window (arg from rct_maxpool2d_forward); an input
 * receiving from several (overlapping) windows sums them in int64, then the tensor is
 * normalised like rct_dense_backward_input. Returns dx_exp (= dy_exp when no overlap).
 * y (may be NULL) is the pool's output: then dy[o] counts only where 0 < y[o] < upper (upper as
 * in rct_relu_backward), the activation mask of the layer before the pool folded in (for
 * non-overlapping windows identical to masking dx by that layer's output). */
int32_t rct_maxpool2d_backward(const uint8_t *arg, const int8_t *y, int32_t upper,
                               const int16_t *dy, int32_t dy_exp, int16_t *dx,
                               const rct_conv_shape_t *sh);

/* AveragePool2D (exponent unchanged): y = sat8(div_round(sum, count)), count = valid taps
 * (padding excluded, as TF), div_round(a, c) = floor((2a + c) / (2c)) (nearest, ties to +inf).
 * The global average pools run it (and the backward) with one window: k = in = H x W (gap1d:
 * 1 x steps), stride 1, no padding, out 1 x 1. */
void rct_avgpool2d_forward(const int8_t *x, int8_t *y, const rct_conv_shape_t *sh);
/* dx_i = sum over windows w containing i of div_round(dy_w * 2^8, count_w) (int64) at exponent
 * dy_exp - 8, then normalised like rct_dense_backward_input. Returns dx_exp. */
int32_t rct_avgpool2d_backward(const int16_t *dy, int32_t dy_exp, int16_t *dx,
                               const rct_conv_shape_t *sh);

/* Requantise an int8 tensor between exponents: y = sat8(round_nearest(x, to_exp - from_exp)).
 * Flatten needs no kernel (NHWC row-major is already flat). */
void rct_requantize_i8(const int8_t *x, int8_t *y, int32_t count, int32_t from_exp,
                       int32_t to_exp);

/* Softmax + cross-entropy on int8 logits z[n][classes] at exponent z_exp, no floats.
 * Per sample: d_j = min(round((zmax - z_j) to exponent -16), 32 << 16) (Q16.16);
 * e_j = exp2_q30(-(d_j * LOG2E_Q16 rounded)) via a 257-entry Q30 table + linear interpolation;
 * p_j = div_round(e_j << 15, sum_j e_j); dz[s][j] = sat16(p_j - (j == label) * 2^15) at exponent
 * RCT_CE_GRAD_EXP. loss (Q16.16, stats only) = d_label + ln(sum/2^30) summed over samples;
 * written to *loss_q16_sum if not NULL (saturated to int32). Returns the number of samples
 * whose argmax (first maximum) equals the label. labels[s] < classes (<= 65535) is required. */
int32_t rct_softmax_ce(const int8_t *z, int32_t z_exp, const uint16_t *labels, int16_t *dz,
                       int32_t n, int32_t classes, int32_t *loss_q16_sum);

/* First index of the maximum of z[0..count). */
int32_t rct_argmax_i8(const int8_t *z, int32_t count);

/* MSE loss head on y[n][m] (int8 at y_exp) against targets t[n][m] (int8 at t_exp): with
 * d = y - t at e = rct_align_exp(y_exp, t_exp), dy = 2 d / m at e - 16 normalised to int16 over
 * the batch; score_q16[s] (if not NULL) = the sample's mean squared error, Q16.16, saturated;
 * *loss_q16 = their saturated sum. Returns dy_exp. */
int32_t rct_mse_loss(const int8_t *y, int32_t y_exp, const int8_t *t, int32_t t_exp, int16_t *dy,
                     int32_t n, int32_t m, int32_t *loss_q16, int32_t *score_q16);

/* Residual Add: y = sat8(round_nearest(a' + b', y_exp - e)), a' and b' aligned to
 * e = rct_align_exp(a_exp, b_exp). y may alias a or b. */
void rct_add_forward(const int8_t *a, int32_t a_exp, const int8_t *b, int32_t b_exp, int8_t *y,
                     int32_t y_exp, int32_t count);
/* The two errors reaching a tensor with two consumers, aligned like rct_add_forward and
 * normalised to int16 (dx may alias da or db). Returns dx_exp. */
int32_t rct_err_add(const int16_t *da, int32_t da_exp, const int16_t *db, int32_t db_exp,
                    int16_t *dx, int32_t count);

/* Padding of x[n][h][w][c] by (top, bottom, left, right) cells of `value` (ZeroPadding2D: 0;
 * a TFLite PAD: the output zero point), and its backward: dx is the crop of
 * dy[n][h+top+bottom][w+left+right][c] (same exponent). */
void rct_pad2d_forward(const int8_t *x, int8_t *y, int32_t n, int32_t h, int32_t w, int32_t c,
                       int32_t top, int32_t bottom, int32_t left, int32_t right, int32_t value);
void rct_pad2d_backward(const int16_t *dy, int16_t *dx, int32_t n, int32_t h, int32_t w,
                        int32_t c, int32_t top, int32_t bottom, int32_t left, int32_t right);

#ifdef __cplusplus
}
#endif

#endif /* RCT_H */
