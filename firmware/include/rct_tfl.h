/* rct_tfl.h — the frozen part in TensorFlow Lite Micro's int8 arithmetic (C99, no heap, no
 * floats). Each function lives in its own file under firmware/kernels/ (rct_tfl_*.c) or
 * firmware/runtime/ and has a numpy twin in rct_tflm/fixedpoint/tflite/ computing the same
 * integers as the tflite-micro reference kernels (docs/numerics.md, "TFLite arithmetic").
 *
 * Conventions (TFLite's, not rct.h's):
 *  - Activations: int8 NHWC with an affine zero point (real = scale * (q - zp)).
 *  - Weights: conv [out][kh][kw][in] (OHWI), depthwise [kh][kw][in * depth_multiplier],
 *    fully connected [out][in]; int8, symmetric (zero point 0); bias int32 (may be NULL).
 *  - Rescaling: per output channel (or one) Q31 multiplier `qm` and power-of-two `shift`,
 *    precomputed on the host from the float scales (QuantizeMultiplier); the device only runs
 *    MultiplyByQuantizedMultiplier (double rounding, as tflite-micro is built).
 */
#ifndef RCT_TFL_H
#define RCT_TFL_H

#include "rct.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Geometry + quantisation of one conv / depthwise conv call. */
typedef struct {
    rct_conv_shape_t s;       /* n, in/out h/w/c, kernel, stride, pad_top/left, depth_multiplier */
    int32_t dil_h, dil_w;     /* dilation (1: none) */
    int32_t zp_in, zp_out;
    int32_t act_min, act_max; /* the fused activation's clamp, in output units */
} rct_tfl_conv_t;

/* Geometry of one pooling call (window clipped to the image; padding never counted). */
typedef struct {
    int32_t n, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} rct_tfl_pool_t;

/* The rescalings of one ADD: each input (after << 20) and the sum's (tflite-micro add_common). */
typedef struct {
    int32_t zp_a, qm_a, shift_a, zp_b, qm_b, shift_b, qm_out, shift_out, zp_out;
    int32_t act_min, act_max;
} rct_tfl_add_t;

/* MultiplyByQuantizedMultiplier(x, qm, shift): SaturatingRoundingDoublingHighMul(x * 2^max(shift,
 * 0), qm) then RoundingDivideByPOT(., max(-shift, 0)). */
int32_t rct_tfl_mbqm(int32_t x, int32_t qm, int32_t shift);

void rct_tfl_conv2d(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *qm,
                    const int32_t *shift, int8_t *y, const rct_tfl_conv_t *p);
void rct_tfl_depthwise_conv2d(const int8_t *x, const int8_t *w, const int32_t *bias,
                              const int32_t *qm, const int32_t *shift, int8_t *y,
                              const rct_tfl_conv_t *p);
/* y[n][out]; per_channel: qm/shift hold `out` entries, else one. */
void rct_tfl_fully_connected(const int8_t *x, const int8_t *w, const int32_t *bias,
                             const int32_t *qm, const int32_t *shift, int32_t per_channel,
                             int8_t *y, int32_t n, int32_t in, int32_t out, int32_t zp_in,
                             int32_t zp_out, int32_t act_min, int32_t act_max);
/* y = a + b elementwise (same shapes); y may alias a or b. */
void rct_tfl_add(const int8_t *a, const int8_t *b, int8_t *y, int32_t count,
                 const rct_tfl_add_t *p);
void rct_tfl_avgpool2d(const int8_t *x, int8_t *y, const rct_tfl_pool_t *p);
void rct_tfl_maxpool2d(const int8_t *x, int8_t *y, const rct_tfl_pool_t *p);
/* MEAN over H and W of x[n][h][w][c] -> y[n][c]: qm/shift already fold 1/(h*w) (the generator
 * computes them as tflite-micro's QuantizedMeanOrSum does). */
void rct_tfl_mean_hw(const int8_t *x, int8_t *y, int32_t n, int32_t h, int32_t w, int32_t c,
                     int32_t zp_in, int32_t qm, int32_t shift, int32_t zp_out);
/* PAD is rct_pad2d_forward (rct.h) with the output zero point as the fill. */
/* QUANTIZE int8 -> int8: y = clamp(mbqm(x - zp_in, qm, shift) + zp_out). */
void rct_tfl_requantize(const int8_t *x, int8_t *y, int32_t count, int32_t zp_in, int32_t qm,
                        int32_t shift, int32_t zp_out);

#ifdef __cplusplus
}
#endif

#endif /* RCT_TFL_H */
