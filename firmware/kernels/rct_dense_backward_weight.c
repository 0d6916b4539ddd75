/* Dense weight gradient in device order [out][in], accumulated (saturating) into an int32
 * buffer; each call's sum is int64. */
#include "rct.h"

void rct_dense_backward_weight(const int8_t *x, const int16_t *dz, int32_t n, int32_t in,
                               int32_t out, int32_t *g)
{
    int32_t i, o, s;
    for (o = 0; o < out; o++)
        for (i = 0; i < in; i++) {
            int64_t a = g[o * in + i];
            for (s = 0; s < n; s++) a += (int64_t)x[s * in + i] * dz[s * out + o];
            g[o * in + i] = (int32_t)rct_sat64(a, 32);
        }
}
