/* Dense weight gradient + RCT update in one pass over the weights stored [out][in], no gradient
 * buffer (batch-1 RAM budget): exactly rct_dense_backward_weight into zeros, then rct_update.
 *
 * Batch 1 with stochastic rounding has a 32-bit path of a dozen instructions per weight:
 * g = x_i dz_o has |g| <= 2^7 2^15 = 2^22 and the uniform's term is < 2^sh, so for sh <= 30 the
 * rounding sum -g + r fits int32 (docs/numerics.md "Accumulator bounds"); one mix32 word serves
 * two neighbouring weights (their uniforms are its halves); sum|g| = sum|x| * sum|dz| exactly;
 * and a weight whose g is 0 is left alone: its step floor(r / 2^sh) is 0, and draws depend only
 * on positions, so skipping rows with dz_o == 0 and pairs with x_i == x_i+1 == 0 changes
 * nothing. */
#include "rct.h"

/* q + step, clipped to [-(hi+1), hi]: one unsigned compare on the common in-range path. */
RCT_HOT_INLINE int32_t add_clip(int32_t q, int32_t step, int32_t hi)
{
    const int32_t v = q + step;
    if ((uint32_t)(v + hi + 1) <= (uint32_t)(2 * hi + 1)) return v;
    return v < 0 ? -hi - 1 : hi;
}

/* One output row at batch 1: the pairs (i, i+1) share word cw + i/2 of the stream. Kept apart
 * from its caller so the loop's dozen live values stay in registers at -Os. */
RCT_NOINLINE static void row_b1(int16_t *row, const int8_t *x, int32_t in, int32_t d, uint32_t cw,
                   int32_t sh, int32_t hi)
{
    const int32_t rsh = 32 - sh;
    int32_t i;
    for (i = 0; i < in; i += 2) {
        const int32_t x0 = x[i], x1 = x[i + 1];
        uint32_t r;
        int32_t q0, q1;
        if ((x0 | x1) == 0) continue; /* g = 0: step floor(r / 2^sh) = 0 */
        r = rct_mix32(cw + (uint32_t)i / 2u);
        q0 = add_clip(row[i], rct_asr32((int32_t)((r << 16) >> rsh) - x0 * d, sh), hi);
        q1 = add_clip(row[i + 1], rct_asr32((int32_t)((r >> 16 << 16) >> rsh) - x1 * d, sh), hi);
        row[i] = (int16_t)q0;
        row[i + 1] = (int16_t)q1;
    }
}

/* Batch 1, stochastic, 1 <= sh <= 30, `in` even (pairs never straddle rows). */
static int64_t update_b1(rct_tensor_t *w, const int8_t *x, const int16_t *dz, int32_t in,
                         int32_t out, int32_t sh, uint32_t base, uint32_t c0)
{
    const int32_t hi = (1 << (w->bits - 1)) - 1;
    int64_t sx = 0, sd = 0;
    int32_t i, o;
    for (i = 0; i < in; i++) sx += x[i] < 0 ? -x[i] : x[i];
    for (o = 0; o < out; o++) {
        const int32_t d = dz[o];
        if (d == 0) continue;
        sd += d < 0 ? -d : d;
        row_b1(w->data + o * in, x, in, d, base + c0 + (uint32_t)(o * in) / 2u, sh, hi);
    }
    return sx * sd;
}

int32_t rct_dense_backward_update(rct_tensor_t *w, const int8_t *x, int32_t x_exp,
                                  const int16_t *dz, int32_t dz_exp, int32_t n, int32_t in,
                                  int32_t out, int32_t lr_shift, int32_t stochastic,
                                  rct_prng_t *r)
{
    const int32_t sh = w->exp + lr_shift - (x_exp + dz_exp);
    const int32_t bits = w->bits;
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    int64_t abs_sum = 0;
    int32_t i, o, s;
    if (n == 1 && stochastic && sh >= 1 && sh <= 30 && (in & 1) == 0) {
        abs_sum = update_b1(w, x, dz, in, out, sh, base, c0);
    } else {
        for (o = 0; o < out; o++)
            for (i = 0; i < in; i++) {
                const int32_t k = o * in + i;
                int64_t a = 0;
                int32_t g;
                for (s = 0; s < n; s++) a += (int64_t)x[s * in + i] * dz[s * out + o];
                g = (int32_t)rct_sat64(a, 32);
                abs_sum += g < 0 ? -(int64_t)g : g;
                w->data[k] = (int16_t)rct_update_elem(w->data[k], g, sh, bits, stochastic,
                                                      rct_prng_u16(base, c0, k));
            }
    }
    if (stochastic && sh >= 1) r->counter = rct_prng_after(c0, w->size);
    return rct_gavg_q16(abs_sum, w->size, sh);
}
