/* Bias gradient: per-channel sum of the error over samples and positions (saturating int32). */
#include "rct.h"

void rct_bias_backward(const int16_t *dz, int32_t rows, int32_t channels, int32_t *g)
{
    int32_t c, r;
    for (c = 0; c < channels; c++) {
        int64_t a = g[c];
        for (r = 0; r < rows; r++) a += dz[r * channels + c];
        g[c] = (int32_t)rct_sat64(a, 32);
    }
}
