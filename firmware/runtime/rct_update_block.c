/* The RCT update of nb consecutive weights k .. k+nb-1 of a tensor with exact int32 gradients g
 * (the conv/depthwise fused kernels, a block of output channels at a time); see rct.h. */
#include "rct.h"

/* q + step clipped to [-(hi+1), hi]: one unsigned compare on the common in-range path. */
RCT_HOT_INLINE int32_t add_clip(int32_t q, int32_t step, int32_t hi)
{
    const int32_t v = q + step;
    if ((uint32_t)(v + hi + 1) <= (uint32_t)(2 * hi + 1)) return v;
    return v < 0 ? -hi - 1 : hi;
}

int64_t rct_update_block(int16_t *q, int32_t k, const int32_t *g, int32_t nb,
                         const rct_update_cfg_t *u)
{
    const int32_t hi = (1 << (u->bits - 1)) - 1, rsh = 32 - u->sh;
    int64_t abs_sum = 0;
    int32_t j;
    for (j = 0; j < nb; j++) {
        const int32_t kk = k + j, gj = g[j];
        abs_sum += gj < 0 ? -(int64_t)gj : gj;
        if (u->fast32) {
            uint32_t r;
            if (gj == 0) continue; /* step floor(r / 2^sh) = 0; draws are by position */
            r = rct_mix32(u->base + u->c0 + ((uint32_t)kk >> 1));
            r = (kk & 1) ? (r >> 16 << 16) : (r << 16); /* the element's u16, << 16 */
            q[kk] = (int16_t)add_clip(q[kk], rct_asr32((int32_t)(r >> rsh) - gj, u->sh), hi);
        } else {
            q[kk] = (int16_t)rct_update_elem(q[kk], gj, u->sh, u->bits, u->stochastic,
                                             rct_prng_u16(u->base, u->c0, kk));
        }
    }
    return abs_sum;
}

void rct_update_cfg(rct_update_cfg_t *u, const rct_tensor_t *t, int32_t sh, int32_t stochastic,
                    const rct_prng_t *r, int64_t g_bound)
{
    u->sh = sh;
    u->bits = t->bits;
    u->stochastic = stochastic;
    u->base = rct_mix32(r->key);
    u->c0 = r->counter;
    /* -g + (r >> (32 - sh)) stays in int32: |g| <= g_bound and the uniform's term is < 2^sh */
    u->fast32 = stochastic && sh >= 1 && sh <= 30 && g_bound >= 0 &&
                g_bound + ((int64_t)1 << sh) <= INT32_MAX;
}
