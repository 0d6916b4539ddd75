/* FULLY_CONNECTED int8, as tflite-micro's reference FullyConnected (per-tensor or per-channel
 * rescale). */
#include "rct_tfl.h"

void rct_tfl_fully_connected(const int8_t *x, const int8_t *w, const int32_t *bias,
                             const int32_t *qm, const int32_t *shift, int32_t per_channel,
                             int8_t *y, int32_t n, int32_t in, int32_t out, int32_t zp_in,
                             int32_t zp_out, int32_t act_min, int32_t act_max)
{
    int32_t b, o, i;
    for (b = 0; b < n; b++)
        for (o = 0; o < out; o++) {
            const int32_t k = per_channel ? o : 0;
            int32_t acc = 0, v;
            for (i = 0; i < in; i++) acc += (x[b * in + i] - zp_in) * w[o * in + i];
            if (bias != NULL) acc += bias[o];
            v = rct_tfl_mbqm(acc, qm[k], shift[k]) + zp_out;
            y[b * out + o] = (int8_t)(v < act_min ? act_min : (v > act_max ? act_max : v));
        }
}
