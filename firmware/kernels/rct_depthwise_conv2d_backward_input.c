/* DepthwiseConv2D error w.r.t. the input: gather over taps and the channel's dm outputs, int64,
 * two passes for the dynamic int16 exponent. */
#include "rct.h"

static int64_t gather(const int16_t *dz, const void *w, int32_t w_bits,
                      const rct_conv_shape_t *sh, int32_t s, int32_t h, int32_t x, int32_t ci)
{
    const int32_t DM = sh->depth_multiplier;
    int64_t a = 0;
    int32_t kh, kw, m;
    for (kh = 0; kh < sh->k_h; kh++) {
        const int32_t th = h + sh->pad_top - kh;
        int32_t oh;
        if (th < 0 || th % sh->stride_h != 0) continue;
        oh = th / sh->stride_h;
        if (oh >= sh->out_h) continue;
        for (kw = 0; kw < sh->k_w; kw++) {
            const int32_t tw = x + sh->pad_left - kw;
            int32_t ow, wb;
            const int16_t *dzp;
            if (tw < 0 || tw % sh->stride_w != 0) continue;
            ow = tw / sh->stride_w;
            if (ow >= sh->out_w) continue;
            dzp = dz + ((s * sh->out_h + oh) * sh->out_w + ow) * sh->out_c + ci * DM;
            wb = ((kh * sh->k_w + kw) * sh->in_c + ci) * DM;
            for (m = 0; m < DM; m++) a += (int64_t)dzp[m] * rct_wload(w, w_bits, wb + m);
        }
    }
    return a;
}

int32_t rct_depthwise_conv2d_backward_input(const int16_t *dz, int32_t dz_exp,
                                            const void *w, int32_t w_bits, int32_t w_exp,
                                            int16_t *dx, const rct_conv_shape_t *sh)
{
    int64_t m = 0;
    int32_t s, h, x, ci, shift = 0, pass;
    for (pass = 0; pass < 2; pass++) {
        int16_t *d = dx;
        for (s = 0; s < sh->n; s++)
            for (h = 0; h < sh->in_h; h++)
                for (x = 0; x < sh->in_w; x++)
                    for (ci = 0; ci < sh->in_c; ci++) {
                        const int64_t v = gather(dz, w, w_bits, sh, s, h, x, ci);
                        if (pass == 0) {
                            const int64_t mag = rct_err_mag(v);
                            if (mag > m) m = mag;
                        } else {
                            *d++ = (int16_t)rct_sat64(rct_round_nearest64(v, shift), 16);
                        }
                    }
        shift = rct_err_shift(m);
    }
    return w_exp + dz_exp + shift;
}
