/* Move an int8 tensor between exponents (round to nearest, saturate). */
#include "rct.h"

void rct_requantize_i8(const int8_t *x, int8_t *y, int32_t count, int32_t from_exp,
                       int32_t to_exp)
{
    int32_t i;
    for (i = 0; i < count; i++)
        y[i] = (int8_t)rct_sat64(rct_round_nearest64(x[i], to_exp - from_exp), 8);
}
