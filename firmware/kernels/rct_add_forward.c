/* Residual Add forward: both int8 branches aligned to a common exponent (rct_align_exp: the
 * finer one shifted left, or rounded when more than 16 exponents apart), summed in int32 and
 * requantised to y_exp. y may alias a or b (element-wise). */
#include "rct.h"

void rct_add_forward(const int8_t *a, int32_t a_exp, const int8_t *b, int32_t b_exp, int8_t *y,
                     int32_t y_exp, int32_t count)
{
    const int32_t e = rct_align_exp(a_exp, b_exp);
    const int32_t sa = e - a_exp, sb = e - b_exp, sy = y_exp - e;
    int32_t i;
    for (i = 0; i < count; i++) {
        const int64_t s = rct_round_nearest64(a[i], sa) + rct_round_nearest64(b[i], sb);
        y[i] = (int8_t)rct_sat64(rct_round_nearest64(s, sy), 8);
    }
}
