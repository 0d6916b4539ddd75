/* QUANTIZE int8 -> int8 (a new scale and zero point), as tflite-micro's Requantize. */
#include "rct_tfl.h"

void rct_tfl_requantize(const int8_t *x, int8_t *y, int32_t count, int32_t zp_in, int32_t qm,
                        int32_t shift, int32_t zp_out)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        const int32_t v = rct_tfl_mbqm(x[i] - zp_in, qm, shift) + zp_out;
        y[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
}
