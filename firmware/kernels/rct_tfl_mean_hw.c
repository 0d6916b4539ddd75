/* MEAN over H and W (global average pooling), as tflite-micro's QuantizedMeanOrSum: the int32
 * sum less zp_in * count, rescaled by a multiplier that already folds 1/count. */
#include "rct_tfl.h"

void rct_tfl_mean_hw(const int8_t *x, int8_t *y, int32_t n, int32_t h, int32_t w, int32_t c,
                     int32_t zp_in, int32_t qm, int32_t shift, int32_t zp_out)
{
    const int32_t count = h * w;
    int32_t b, ch, k;
    for (b = 0; b < n; b++)
        for (ch = 0; ch < c; ch++) {
            int32_t sum = 0, v;
            for (k = 0; k < count; k++) sum += x[(b * count + k) * c + ch];
            v = rct_tfl_mbqm(sum - zp_in * count, qm, shift) + zp_out;
            y[b * c + ch] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
        }
}
