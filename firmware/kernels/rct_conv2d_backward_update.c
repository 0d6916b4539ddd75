/* Conv2D weight gradient + RCT update element by element (storage order = device order
 * [kh][kw][ci][co]), no gradient buffer: exactly rct_conv2d_backward_weight into zeros followed
 * by rct_update. Four neighbouring output channels share one pass over the output positions: x
 * is read once for the four, dz[.., co..co+3] is contiguous. The sums stay in int32 when the term
 * count allows (docs/numerics.md "Accumulator bounds": n * out_h * out_w <= RCT_GRAD32_MAX_TERMS),
 * else the exact int64 helper runs. The update of a block then takes one mix32 word per two
 * weights, and 32-bit rounding arithmetic when |g| + 2^sh fits int32. */
#include "rct.h"

/* g[0..3] += sum_j xp[j * xstep] * dp[j * CO + 0..3], j < len: one row of output positions. */
static RCT_NOINLINE void row4(const int8_t *xp, int32_t xstep, const int16_t *dp, int32_t CO,
                              int32_t len, int32_t *g)
{
    int32_t g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
    for (; len > 0; len--, xp += xstep, dp += CO) {
        const int32_t xv = *xp;
#if RCT_DSP
        const int32_t d01 = rct_ld32(dp), d23 = rct_ld32(dp + 2);
        g0 = __smlabb(d01, xv, g0);
        g1 = __smlatb(d01, xv, g1);
        g2 = __smlabb(d23, xv, g2);
        g3 = __smlatb(d23, xv, g3);
#else
        g0 += xv * dp[0];
        g1 += xv * dp[1];
        g2 += xv * dp[2];
        g3 += xv * dp[3];
#endif
    }
    g[0] = g0; g[1] = g1; g[2] = g2; g[3] = g3;
}

/* g[0..3] = sum over samples and output positions of x[.., ci] * dz[.., co..co+3] for tap
 * (kh, kw), positions restricted to oh in [oh0, oh1), ow in [ow0, ow1) (the valid ones). */
static void grad4(const int8_t *x, const int16_t *dz, const rct_conv_shape_t *sh, int32_t kh,
                  int32_t kw, int32_t ci, int32_t co, int32_t oh0, int32_t oh1, int32_t ow0,
                  int32_t ow1, int32_t *g)
{
    const int32_t xstep = sh->stride_w * sh->in_c, CO = sh->out_c;
    int32_t s, oh;
    g[0] = g[1] = g[2] = g[3] = 0;
    if (ow1 <= ow0) return;
    for (s = 0; s < sh->n; s++)
        for (oh = oh0; oh < oh1; oh++) {
            const int32_t ih = oh * sh->stride_h - sh->pad_top + kh;
            const int32_t iw = ow0 * sh->stride_w - sh->pad_left + kw;
            row4(x + ((s * sh->in_h + ih) * sh->in_w + iw) * sh->in_c + ci, xstep,
                 dz + ((s * sh->out_h + oh) * sh->out_w + ow0) * CO + co, CO, ow1 - ow0, g);
        }
}

/* q + step clipped to [-(hi+1), hi]: one unsigned compare on the common in-range path. */
RCT_HOT_INLINE int32_t add_clip(int32_t q, int32_t step, int32_t hi)
{
    const int32_t v = q + step;
    if ((uint32_t)(v + hi + 1) <= (uint32_t)(2 * hi + 1)) return v;
    return v < 0 ? -hi - 1 : hi;
}

/* Elements k .. k+nb-1 with gradients g[]: the 32-bit stochastic path (1 <= sh <= 30 and every
 * |g| + 2^sh < 2^31, so -g + (r >> (32 - sh)) cannot wrap), or the generic update. Uniforms by
 * position (rct_prng_u16), so a zero gradient (step floor(r / 2^sh) = 0) is skipped. */
static int64_t update_block(int16_t *q, int32_t k, const int32_t *g, int32_t nb, int32_t sh,
                            int32_t bits, int32_t mode32, int32_t stochastic, uint32_t base,
                            uint32_t c0)
{
    const int32_t hi = (1 << (bits - 1)) - 1, rsh = 32 - sh;
    int64_t abs_sum = 0;
    int32_t j;
    for (j = 0; j < nb; j++) {
        const int32_t kk = k + j, gj = g[j];
        abs_sum += gj < 0 ? -(int64_t)gj : gj;
        if (mode32) {
            uint32_t r;
            if (gj == 0) continue;
            r = rct_mix32(base + c0 + ((uint32_t)kk >> 1));
            r = (kk & 1) ? (r >> 16 << 16) : (r << 16);
            q[kk] = (int16_t)add_clip(q[kk], rct_asr32((int32_t)(r >> rsh) - gj, sh), hi);
        } else {
            q[kk] = (int16_t)rct_update_elem(q[kk], gj, sh, bits, stochastic,
                                             rct_prng_u16(base, c0, kk));
        }
    }
    return abs_sum;
}

int32_t rct_conv2d_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                   const int16_t *dz, int32_t dz_exp,
                                   const rct_conv_shape_t *sh, int32_t lr_shift,
                                   int32_t stochastic, rct_prng_t *r)
{
    const int32_t shift = w->exp + lr_shift - (x_exp + dz_exp);
    const int32_t bits = w->bits, CO = sh->out_c;
    const int64_t terms = (int64_t)sh->n * sh->out_h * sh->out_w;
    const int32_t use32 = terms <= RCT_GRAD32_MAX_TERMS;
    const int32_t co4 = use32 ? CO - CO % 4 : 0;
    /* |g| <= terms * 2^22, and the uniform's term is < 2^shift */
    const int32_t mode32 = stochastic && use32 && shift >= 1 && shift <= 30 &&
                           terms * ((int64_t)1 << 22) + ((int64_t)1 << shift) <= INT32_MAX;
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    int64_t abs_sum = 0;
    int32_t kh, kw, ci, co, k = 0;
    for (kh = 0; kh < sh->k_h; kh++) {
        int32_t oh0, oh1;
        rct_out_range(kh, sh->stride_h, sh->pad_top, sh->in_h, sh->out_h, &oh0, &oh1);
        for (kw = 0; kw < sh->k_w; kw++) {
            int32_t ow0, ow1;
            rct_out_range(kw, sh->stride_w, sh->pad_left, sh->in_w, sh->out_w, &ow0, &ow1);
            for (ci = 0; ci < sh->in_c; ci++)
                for (co = 0; co < CO;) {
                    int32_t g[4], nb = 1;
                    if (co < co4) {
                        grad4(x, dz, sh, kh, kw, ci, co, oh0, oh1, ow0, ow1, g);
                        nb = 4;
                    } else {
                        g[0] = (int32_t)rct_sat64(
                            rct_conv2d_weight_grad(x, dz, sh, kh, kw, ci, co), 32);
                    }
                    abs_sum += update_block(w->data, k, g, nb, shift, bits, mode32, stochastic,
                                            base, c0);
                    k += nb;
                    co += nb;
                }
        }
    }
    if (stochastic && shift >= 1) r->counter = rct_prng_after(c0, w->size);
    return rct_gavg_q16(abs_sum, w->size, shift);
}
