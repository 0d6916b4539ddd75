/* First index of the maximum of an int8 vector. */
#include "rct.h"

int32_t rct_argmax_i8(const int8_t *z, int32_t count)
{
    int32_t i, best = 0;
    for (i = 1; i < count; i++)
        if (z[i] > z[best]) best = i;
    return best;
}
