/* Conv2D weight gradient + RCT update element by element (storage order = device order
 * [kh][kw][ci][co]), no gradient buffer: exactly rct_conv2d_backward_weight into zeros followed
 * by rct_update. Four neighbouring output channels share one pass over the output positions: x
 * is read once for the four, dz[.., co..co+3] is contiguous. The sums stay in int32 when the term
 * count allows (docs/numerics.md "Accumulator bounds": n * out_h * out_w <= RCT_GRAD32_MAX_TERMS),
 * else the exact int64 helper runs. Each block is then updated by rct_update_block (32-bit
 * rounding when |g| + 2^sh fits int32: |g| <= terms * 2^22). */
#include "rct.h"

/* Geometry of one tap's gradient pass: the valid output positions are nrows rows of len
 * positions per sample; x and dz of the first position, strides per sample / row / position. */
typedef struct {
    int32_t n, nrows, len;
    int32_t xs, xr, xp; /* x strides: sample, row, position */
    int32_t ds, dr, CO; /* dz strides: sample, row; position = CO */
} tap_walk_t;

/* g[0..3] = sum over the walk of x * dz[0..3] (int32: the caller checked the term bound). */
static RCT_NOINLINE void grad4(const int8_t *x, const int16_t *dz, const tap_walk_t *t,
                               int32_t *g)
{
    const int32_t xp = t->xp, CO = t->CO, len = t->len;
    int32_t g0 = 0, g1 = 0, g2 = 0, g3 = 0, s, r, j;
    for (s = 0; s < t->n; s++)
        for (r = 0; r < t->nrows; r++) {
            const int8_t *xr = x + s * t->xs + r * t->xr;
            const int16_t *dr = dz + s * t->ds + r * t->dr;
            for (j = 0; j < len; j++) {
                const int32_t xv = xr[j * xp];
                const int16_t *dp = dr + j * CO;
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
        }
    g[0] = g0; g[1] = g1; g[2] = g2; g[3] = g3;
}

int32_t rct_conv2d_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                   const int16_t *dz, int32_t dz_exp,
                                   const rct_conv_shape_t *sh, int32_t lr_shift,
                                   int32_t stochastic, rct_prng_t *r)
{
    const int32_t shift = w->exp + lr_shift - (x_exp + dz_exp);
    const int32_t CO = sh->out_c;
    const int64_t terms = (int64_t)sh->n * sh->out_h * sh->out_w;
    const int32_t use32 = terms <= RCT_GRAD32_MAX_TERMS;
    const int32_t co4 = use32 ? CO - CO % 4 : 0;
    rct_update_cfg_t u;
    int64_t abs_sum = 0;
    int32_t kh, kw, ci, co, k = 0;
    rct_update_cfg(&u, w, shift, stochastic, r, use32 ? terms * ((int64_t)1 << 22) : -1);
    for (kh = 0; kh < sh->k_h; kh++) {
        int32_t oh0, oh1;
        rct_out_range(kh, sh->stride_h, sh->pad_top, sh->in_h, sh->out_h, &oh0, &oh1);
        for (kw = 0; kw < sh->k_w; kw++) {
            int32_t ow0, ow1;
            rct_out_range(kw, sh->stride_w, sh->pad_left, sh->in_w, sh->out_w, &ow0, &ow1);
            const int32_t ih0 = oh0 * sh->stride_h - sh->pad_top + kh;
            const int32_t iw0 = ow0 * sh->stride_w - sh->pad_left + kw;
            const int32_t any = oh1 > oh0 && ow1 > ow0;
            tap_walk_t t;
            t.n = sh->n; t.nrows = oh1 - oh0; t.len = ow1 - ow0;
            t.xs = sh->in_h * sh->in_w * sh->in_c;
            t.xr = sh->stride_h * sh->in_w * sh->in_c;
            t.xp = sh->stride_w * sh->in_c;
            t.ds = sh->out_h * sh->out_w * CO; t.dr = sh->out_w * CO; t.CO = CO;
            for (ci = 0; ci < sh->in_c; ci++)
                for (co = 0; co < CO;) {
                    int32_t g[4], nb = 1;
                    g[0] = g[1] = g[2] = g[3] = 0; /* element-wise: -Os calls memset for {0} */
                    if (co < co4) {
                        if (any) /* x and dz of the first valid position */
                            grad4(x + (ih0 * sh->in_w + iw0) * sh->in_c + ci,
                                  dz + (oh0 * sh->out_w + ow0) * CO + co, &t, g);
                        nb = 4;
                    } else {
                        g[0] = (int32_t)rct_sat64(
                            rct_conv2d_weight_grad(x, dz, sh, kh, kw, ci, co), 32);
                    }
                    abs_sum += rct_update_block(w->data, k, g, nb, &u);
                    k += nb;
                    co += nb;
                }
        }
    }
    if (stochastic && shift >= 1) r->counter = rct_prng_after(u.c0, w->size);
    return rct_gavg_q16(abs_sum, w->size, shift);
}
