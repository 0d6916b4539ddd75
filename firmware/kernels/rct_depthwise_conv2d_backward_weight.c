/* DepthwiseConv2D weight gradient, accumulated (saturating) into g[kh][kw][cin][dm]. */
#include "rct.h"

void rct_depthwise_conv2d_backward_weight(const int8_t *x, const int16_t *dz,
                                          const rct_conv_shape_t *sh, int32_t *g)
{
    int32_t kh, kw, ci, m, k = 0;
    for (kh = 0; kh < sh->k_h; kh++)
        for (kw = 0; kw < sh->k_w; kw++)
            for (ci = 0; ci < sh->in_c; ci++)
                for (m = 0; m < sh->depth_multiplier; m++, k++)
                    g[k] = (int32_t)rct_sat64(
                        (int64_t)g[k] + rct_depthwise_conv2d_weight_grad(x, dz, sh, kh, kw, ci, m),
                        32);
}
