/* Conv2D weight gradient, accumulated (saturating) into g[kh][kw][cin][cout]. */
#include "rct.h"

void rct_conv2d_backward_weight(const int8_t *x, const int16_t *dz, const rct_conv_shape_t *sh,
                                int32_t *g)
{
    int32_t kh, kw, ci, co, k = 0;
    for (kh = 0; kh < sh->k_h; kh++)
        for (kw = 0; kw < sh->k_w; kw++)
            for (ci = 0; ci < sh->in_c; ci++)
                for (co = 0; co < sh->out_c; co++, k++)
                    g[k] = (int32_t)rct_sat64((int64_t)g[k] + rct_conv2d_weight_grad(x, dz, sh, kh, kw, ci, co), 32);
}
