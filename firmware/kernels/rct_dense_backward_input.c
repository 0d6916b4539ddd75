/* Dense error w.r.t. the input: int64 sums, then the dynamic int16 exponent. Two passes (max,
 * then write) recompute the sums instead of holding an int64 scratch tensor. */
#include "rct.h"

static int64_t dot(const int16_t *dzr, const void *w, int32_t w_bits, int32_t i, int32_t out)
{
    int64_t a = 0;
    int32_t o;
    for (o = 0; o < out; o++) a += (int64_t)dzr[o] * rct_wload(w, w_bits, i * out + o);
    return a;
}

int32_t rct_dense_backward_input(const int16_t *dz, int32_t dz_exp,
                                 const void *w, int32_t w_bits, int32_t w_exp,
                                 int16_t *dx, int32_t n, int32_t in, int32_t out)
{
    int64_t m = 0;
    int32_t s, i, shift;
    for (s = 0; s < n; s++)
        for (i = 0; i < in; i++) {
            const int64_t mag = rct_err_mag(dot(dz + s * out, w, w_bits, i, out));
            if (mag > m) m = mag;
        }
    shift = rct_err_shift(m);
    for (s = 0; s < n; s++)
        for (i = 0; i < in; i++)
            dx[s * in + i] = (int16_t)rct_sat64(
                rct_round_nearest64(dot(dz + s * out, w, w_bits, i, out), shift), 16);
    return w_exp + dz_exp + shift;
}
