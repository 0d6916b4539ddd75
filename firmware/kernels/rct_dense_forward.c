/* Dense forward: int32/int64 accumulation, bias aligned into the accumulator, round-to-nearest
 * requantisation to the int8 output exponent, fused ReLU/ReLU6 (docs/numerics.md). */
#include <stddef.h>
#include "rct.h"

void rct_dense_forward(const int8_t *x, int32_t x_exp,
                       const void *w, int32_t w_bits, int32_t w_exp,
                       const void *b, int32_t b_bits, int32_t b_exp,
                       int8_t *y, int32_t y_exp,
                       int32_t n, int32_t in, int32_t out, rct_act_t act, rct_acc_t acc)
{
    const int32_t e = x_exp + w_exp;
    const int32_t upper = act == RCT_ACT_RELU6 ? rct_relu6_upper(y_exp) : 127;
    int32_t s, o, i;
    for (s = 0; s < n; s++) {
        const int8_t *xr = x + s * in;
        for (o = 0; o < out; o++) {
            int64_t v;
            if (acc == RCT_ACC32) { /* caller guarantees in * 2^(w_bits+6) <= 2^31 - 1 */
                int32_t a = 0;
                for (i = 0; i < in; i++) a += (int32_t)xr[i] * rct_wload(w, w_bits, i * out + o);
                v = a;
            } else {
                int64_t a = 0;
                for (i = 0; i < in; i++) a += (int64_t)xr[i] * rct_wload(w, w_bits, i * out + o);
                v = a;
            }
            if (b != NULL) v += rct_round_nearest64(rct_wload(b, b_bits, o), e - b_exp);
            v = rct_sat64(rct_round_nearest64(v, y_exp - e), 8);
            if (act != RCT_ACT_LINEAR) {
                if (v < 0) v = 0;
                if (v > upper) v = upper;
            }
            y[s * out + o] = (int8_t)v;
        }
    }
}
