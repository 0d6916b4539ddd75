/* Padding of an NHWC int8 tensor with a constant: zeros for ZeroPadding2D (real 0 at any
 * exponent), the output zero point for a TFLite PAD (real 0 in affine int8). */
#include "rct.h"

void rct_pad2d_forward(const int8_t *x, int8_t *y, int32_t n, int32_t h, int32_t w, int32_t c,
                       int32_t top, int32_t bottom, int32_t left, int32_t right, int32_t value)
{
    const int32_t oh = h + top + bottom, ow = w + left + right;
    int32_t b, iy;
    memset(y, (int8_t)value, (size_t)(n * oh * ow * c));
    for (b = 0; b < n; b++)
        for (iy = 0; iy < h; iy++)
            memcpy(y + ((b * oh + iy + top) * ow + left) * c, x + (b * h + iy) * w * c,
                   (size_t)(w * c));
}
