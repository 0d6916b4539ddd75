/* Bias gradient + RCT update in one pass, no gradient buffer. With stochastic rounding and
 * rows * 2^15 + 2^sh < 2^31 (sh <= 30) the rounding sum -g + r fits int32 and the update is
 * 32-bit, one mix32 word per pair of channels; else the int64 contract path. */
#include "rct.h"

/* sat_bits(q - g rounded stochastically by sh with the 16-bit uniform u), 32-bit. */
RCT_HOT_INLINE int16_t step32(int32_t q, int32_t g, uint32_t u, int32_t sh, int32_t hi)
{
    const int32_t v = q + rct_asr32((int32_t)((u << 16) >> (32 - sh)) - g, sh);
    return (int16_t)(v > hi ? hi : (v < -hi - 1 ? -hi - 1 : v));
}

RCT_HOT_INLINE int32_t grad(const int16_t *dz, int32_t rows, int32_t channels, int32_t c)
{
    int64_t a = 0;
    int32_t k;
    for (k = 0; k < rows; k++) a += dz[k * channels + c];
    return (int32_t)rct_sat64(a, 32);
}

int32_t rct_bias_backward_update(rct_tensor_t *b, const int16_t *dz, int32_t dz_exp,
                                 int32_t rows, int32_t channels, int32_t lr_shift,
                                 int32_t stochastic, rct_prng_t *r)
{
    const int32_t sh = b->exp + lr_shift - dz_exp;
    const int32_t bits = b->bits;
    const int32_t hi = (1 << (bits - 1)) - 1;
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    int64_t abs_sum = 0;
    int32_t c;
    if (stochastic && sh >= 1 && sh <= 30 &&
        (int64_t)rows * 32768 + ((int64_t)1 << sh) < ((int64_t)1 << 31)) {
        for (c = 0; c < channels; c += 2) { /* channels c, c+1 share word c/2 */
            const uint32_t wd = rct_mix32(base + c0 + (uint32_t)c / 2u);
            const int32_t g0 = grad(dz, rows, channels, c);
            abs_sum += g0 < 0 ? -g0 : g0;
            b->data[c] = step32(b->data[c], g0, wd & 0xFFFFu, sh, hi);
            if (c + 1 < channels) {
                const int32_t g1 = grad(dz, rows, channels, c + 1);
                abs_sum += g1 < 0 ? -g1 : g1;
                b->data[c + 1] = step32(b->data[c + 1], g1, wd >> 16, sh, hi);
            }
        }
    } else {
        for (c = 0; c < channels; c++) {
            const int32_t g = grad(dz, rows, channels, c);
            abs_sum += g < 0 ? -(int64_t)g : g;
            b->data[c] = (int16_t)rct_update_elem(b->data[c], g, sh, bits, stochastic,
                                                  rct_prng_u16(base, c0, c));
        }
    }
    if (stochastic && sh >= 1) r->counter = rct_prng_after(c0, b->size);
    return rct_gavg_q16(abs_sum, b->size, sh);
}
