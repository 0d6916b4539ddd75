/* ReLU / ReLU6 on int8 (exponent unchanged). */
#include "rct.h"

void rct_relu_forward(const int8_t *x, int8_t *y, int32_t count, int32_t upper)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        int32_t v = x[i];
        if (v < 0) v = 0;
        if (v > upper) v = upper;
        y[i] = (int8_t)v;
    }
}
