/* Dense error w.r.t. the input over weights stored [out][in]: int64 sums, then the dynamic int16
 * exponent. Up to RCT_DX_STACK values, one pass keeps the sums on the stack as int32 (512 B) and
 * normalises them; a sum that does not fit int32, or a larger tensor, takes the two-pass route
 * (max, then write), which recomputes the sums instead of holding an int64 scratch tensor. */
#include "rct.h"

#define RCT_DX_STACK 128

static int64_t dot(const int16_t *dzr, const void *w, int32_t w_bits, int32_t i, int32_t in,
                   int32_t out)
{
    int64_t a = 0;
    int32_t o;
    if (w_bits <= 8) {
        const int8_t *col = (const int8_t *)w + i;
        for (o = 0; o < out; o++) a += (int32_t)dzr[o] * col[o * in];
    } else {
        const int16_t *col = (const int16_t *)w + i;
        for (o = 0; o < out; o++) a += (int32_t)dzr[o] * col[o * in];
    }
    return a;
}

static int16_t normalise(int64_t v, int32_t shift)
{
    return (int16_t)rct_sat64(rct_round_nearest64(v, shift), 16);
}

int32_t rct_dense_backward_input(const int16_t *dz, int32_t dz_exp,
                                 const void *w, int32_t w_bits, int32_t w_exp,
                                 int16_t *dx, int32_t n, int32_t in, int32_t out)
{
    int64_t m = 0;
    int32_t s, i, shift, k = 0;
    int32_t v32[RCT_DX_STACK];
    const int32_t keep = n * in <= RCT_DX_STACK;
    int32_t kept = keep;
    for (s = 0; s < n; s++)
        for (i = 0; i < in; i++, k++) {
            const int64_t v = dot(dz + s * out, w, w_bits, i, in, out);
            const int64_t mag = rct_err_mag(v);
            if (mag > m) m = mag;
            if (kept) {
                if (v != (int32_t)v) kept = 0; /* the second pass recomputes it */
                else v32[k] = (int32_t)v;
            }
        }
    shift = rct_err_shift(m);
    for (s = 0, k = 0; s < n; s++)
        for (i = 0; i < in; i++, k++)
            dx[k] = normalise(kept ? v32[k] : dot(dz + s * out, w, w_bits, i, in, out), shift);
    return w_exp + dz_exp + shift;
}
