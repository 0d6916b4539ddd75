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

/* The 32-bit stochastic path over element pairs (2p, 2p+1) that share PRNG word w0 + p, their
 * u16 the word's low and high halves: -g + (u16 << 16 >> (32 - sh)) < 2^31 by the caller's
 * bound. A pair with both gradients 0 keeps its weights (each step floor(r / 2^sh) = 0). */
static RCT_NOINLINE int64_t fast_pairs(int16_t *q, const int32_t *g, int32_t npairs, uint32_t w0,
                                       int32_t sh, int32_t hi)
{
    const int32_t rsh = 32 - sh;
    int64_t abs_sum = 0;
    int32_t p;
    for (p = 0; p < npairs; p++, q += 2, g += 2) {
        const int32_t g0 = g[0], g1 = g[1];
        uint32_t r;
        abs_sum += (int64_t)((uint32_t)(g0 < 0 ? -g0 : g0) + (uint32_t)(g1 < 0 ? -g1 : g1));
        if ((g0 | g1) == 0) continue;
        r = rct_mix32(w0 + (uint32_t)p);
        q[0] = (int16_t)add_clip(q[0], rct_asr32((int32_t)((r << 16) >> rsh) - g0, sh), hi);
        q[1] = (int16_t)add_clip(q[1], rct_asr32((int32_t)((r >> 16 << 16) >> rsh) - g1, sh), hi);
    }
    return abs_sum;
}

static int64_t one(int16_t *q, int32_t k, int32_t g, const rct_update_cfg_t *u)
{
    q[k] = (int16_t)rct_update_elem(q[k], g, u->sh, u->bits, u->stochastic,
                                    rct_prng_u16(u->base, u->c0, k));
    return g < 0 ? -(int64_t)g : g;
}

int64_t rct_update_block(int16_t *q, int32_t k, const int32_t *g, int32_t nb,
                         const rct_update_cfg_t *u)
{
    int64_t abs_sum = 0;
    int32_t j = 0;
    if (u->fast32) {
        const int32_t hi = (1 << (u->bits - 1)) - 1;
        if (k & 1) { /* an odd first element: its word's other half belongs to element k - 1 */
            abs_sum += one(q, k, g[0], u);
            j = 1;
        }
        if (nb - j >= 2) {
            const int32_t np = (nb - j) / 2;
            abs_sum += fast_pairs(q + k + j, g + j, np, u->base + u->c0 + (uint32_t)(k + j) / 2u,
                                  u->sh, hi);
            j += 2 * np;
        }
    }
    for (; j < nb; j++) abs_sum += one(q, k + j, g[j], u);
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
