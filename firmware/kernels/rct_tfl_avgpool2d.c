/* AVERAGE_POOL_2D int8, as tflite-micro's reference AveragePool: the window clipped to the
 * image, the sum divided by the taps counted, rounded half away from zero (C division). */
#include "rct_tfl.h"

void rct_tfl_avgpool2d(const int8_t *x, int8_t *y, const rct_tfl_pool_t *p)
{
    int32_t b, oy, ox, c, iy, ix;
    for (b = 0; b < p->n; b++)
        for (oy = 0; oy < p->out_h; oy++)
            for (ox = 0; ox < p->out_w; ox++)
                for (c = 0; c < p->c; c++) {
                    const int32_t y0 = oy * p->stride_h - p->pad_top;
                    const int32_t x0 = ox * p->stride_w - p->pad_left;
                    int32_t acc = 0, count = 0;
                    for (iy = y0 < 0 ? 0 : y0; iy < y0 + p->k_h && iy < p->in_h; iy++)
                        for (ix = x0 < 0 ? 0 : x0; ix < x0 + p->k_w && ix < p->in_w; ix++) {
                            acc += x[((b * p->in_h + iy) * p->in_w + ix) * p->c + c];
                            count++;
                        }
                    if (count == 0) count = 1; /* cannot happen for valid geometry */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    acc = acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
                    y[((b * p->out_h + oy) * p->out_w + ox) * p->c + c] = (int8_t)acc;
                }
}
