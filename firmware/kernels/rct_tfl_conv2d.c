/* CONV_2D int8 per-channel, as tflite-micro's reference ConvPerChannel: taps outside the image
 * are skipped (the padding adds nothing), int32 accumulator, bias, per-channel rescale. */
#include "rct_tfl.h"

void rct_tfl_conv2d(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *qm,
                    const int32_t *shift, int8_t *y, const rct_tfl_conv_t *p)
{
    const rct_conv_shape_t *s = &p->s;
    int32_t b, oy, ox, oc, ky, kx, ic;
    for (b = 0; b < s->n; b++)
        for (oy = 0; oy < s->out_h; oy++)
            for (ox = 0; ox < s->out_w; ox++)
                for (oc = 0; oc < s->out_c; oc++) {
                    int32_t acc = 0, v;
                    for (ky = 0; ky < s->k_h; ky++) {
                        const int32_t iy = oy * s->stride_h - s->pad_top + ky * p->dil_h;
                        if (iy < 0 || iy >= s->in_h) continue;
                        for (kx = 0; kx < s->k_w; kx++) {
                            const int32_t ix = ox * s->stride_w - s->pad_left + kx * p->dil_w;
                            const int8_t *xi, *wi;
                            if (ix < 0 || ix >= s->in_w) continue;
                            xi = x + ((b * s->in_h + iy) * s->in_w + ix) * s->in_c;
                            wi = w + ((oc * s->k_h + ky) * s->k_w + kx) * s->in_c;
                            for (ic = 0; ic < s->in_c; ic++)
                                acc += (xi[ic] - p->zp_in) * wi[ic];
                        }
                    }
                    if (bias != NULL) acc += bias[oc];
                    v = rct_tfl_mbqm(acc, qm[oc], shift[oc]) + p->zp_out;
                    v = v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v);
                    y[((b * s->out_h + oy) * s->out_w + ox) * s->out_c + oc] = (int8_t)v;
                }
}
