/* ReLU / ReLU6 mask on the error, in place, from the activation's int8 output. */
#include "rct.h"

void rct_relu_backward(const int8_t *y, int16_t *dy, int32_t count, int32_t upper)
{
    int32_t i;
    for (i = 0; i < count; i++)
        if (y[i] <= 0 || y[i] >= upper) dy[i] = 0;
}
