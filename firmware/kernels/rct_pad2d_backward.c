/* ZeroPadding2D backward: the error of the kept cells (a crop; the padding had no input). */
#include "rct.h"

void rct_pad2d_backward(const int16_t *dy, int16_t *dx, int32_t n, int32_t h, int32_t w,
                        int32_t c, int32_t top, int32_t bottom, int32_t left, int32_t right)
{
    const int32_t oh = h + top + bottom, ow = w + left + right;
    int32_t b, iy;
    for (b = 0; b < n; b++)
        for (iy = 0; iy < h; iy++)
            memcpy(dx + (b * h + iy) * w * c, dy + ((b * oh + iy + top) * ow + left) * c,
                   (size_t)(w * c) * sizeof(int16_t));
}
