/* Dense error w.r.t. the input over weights stored [out][in]: int64 sums, then the dynamic int16
 * exponent. Up to RCT_DX_STACK values, one pass keeps the sums on the stack as int32 (256 B) and
 * normalises them; a sum that does not fit int32, or a larger tensor, takes the two-pass route
 * (max, then write), which recomputes the sums instead of holding an int64 scratch tensor. */
#include "rct.h"

#define RCT_DX_STACK 64

/* Column i of the [out][in] weights against one sample's dz: SMLAL per term. */
static int64_t dot(const int16_t *dzr, const void *w, int32_t w_bits, int32_t i, int32_t in,
                   int32_t out)
{
    int64_t a = 0;
    int32_t o;
    if (w_bits <= 8) {
        const int8_t *col = (const int8_t *)w + i;
        for (o = 0; o < out; o++, col += in) a += (int64_t)dzr[o] * *col;
    } else {
        const int16_t *col = (const int16_t *)w + i;
        for (o = 0; o < out; o++, col += in) a += (int64_t)dzr[o] * *col;
    }
    return a;
}

/* Columns i and i+1 of int16 weights at once: one dz load serves two SMLALs. */
static void dot2(const int16_t *dzr, const int16_t *w, int32_t i, int32_t in, int32_t out,
                 int64_t *v)
{
    const int16_t *col = w + i;
    int64_t a0 = 0, a1 = 0;
    int32_t o;
    for (o = 0; o < out; o++, col += in) {
        const int32_t d = dzr[o];
        a0 += (int64_t)d * col[0];
        a1 += (int64_t)d * col[1];
    }
    v[0] = a0;
    v[1] = a1;
}

/* sat16(round_nearest(v, shift)) for 0 <= shift <= 48 (|v| <= 2^62). */
static int16_t normalise(int64_t v, int32_t shift)
{
    if (shift > 0) v = rct_asr64(v + ((int64_t)1 << (shift - 1)), shift);
    return (int16_t)(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

int32_t rct_dense_backward_input(const int16_t *dz, int32_t dz_exp,
                                 const void *w, int32_t w_bits, int32_t w_exp,
                                 int16_t *dx, int32_t n, int32_t in, int32_t out)
{
    int64_t m = 0;
    int32_t s, i, shift, k = 0;
    const int32_t keep = n * in <= RCT_DX_STACK;
    int32_t v32[RCT_DX_STACK];
    int32_t kept = keep;
    for (s = 0; s < n; s++) {
        const int16_t *dzr = dz + s * out;
        int32_t step;
        for (i = 0; i < in; i += step) {
            int64_t v[2];
            int32_t j;
            step = w_bits > 8 && i + 1 < in ? 2 : 1; /* int16: two columns per pass over dz */
            if (step == 2) dot2(dzr, (const int16_t *)w, i, in, out, v);
            else v[0] = dot(dzr, w, w_bits, i, in, out);
            for (j = 0; j < step; j++, k++) {
                if (rct_err_mag(v[j]) > m) m = rct_err_mag(v[j]);
                if (kept) {
                    if (v[j] != (int32_t)v[j]) kept = 0; /* the second pass recomputes it */
                    else v32[k] = (int32_t)v[j];
                }
            }
        }
    }
    shift = rct_err_shift(m);
    for (s = 0, k = 0; s < n; s++)
        for (i = 0; i < in; i++, k++)
            dx[k] = normalise(kept ? v32[k] : dot(dz + s * out, w, w_bits, i, in, out), shift);
    return w_exp + dz_exp + shift;
}
