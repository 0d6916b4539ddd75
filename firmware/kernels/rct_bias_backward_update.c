/* Bias gradient + RCT update in one pass, no gradient buffer. With stochastic rounding and
 * rows * 2^15 + 2^sh < 2^31 (a dense layer at micro-batch <= 2^15 - 2^(sh-15) with sh <= 30)
 * the rounding sum -g + r fits int32 and the update is 32-bit; else the int64 contract path. */
#include "rct.h"

int32_t rct_bias_backward_update(rct_tensor_t *b, const int16_t *dz, int32_t dz_exp,
                                 int32_t rows, int32_t channels, int32_t lr_shift,
                                 int32_t stochastic, rct_prng_t *r)
{
    const int32_t sh = b->exp + lr_shift - dz_exp;
    const int32_t bits = b->bits;
    const int32_t hi = (1 << (bits - 1)) - 1, lo = -hi - 1;
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    const int fast = stochastic && sh >= 1 && sh <= 30 &&
                     (int64_t)rows * 32768 + ((int64_t)1 << sh) < ((int64_t)1 << 31);
    int64_t abs_sum = 0;
    int32_t c, k;
    for (c = 0; c < channels; c++) {
        int64_t a = 0;
        int32_t g;
        for (k = 0; k < rows; k++) a += dz[k * channels + c];
        g = (int32_t)rct_sat64(a, 32);
        abs_sum += g < 0 ? -(int64_t)g : g;
        if (fast) {
            const uint32_t u = rct_prng_u16(base, c0, c);
            const int32_t q = b->data[c] + rct_asr32((int32_t)((u << 16) >> (32 - sh)) - g, sh);
            b->data[c] = (int16_t)(q > hi ? hi : (q < lo ? lo : q));
        } else {
            b->data[c] = (int16_t)rct_update_elem(b->data[c], g, sh, bits, stochastic,
                                                  rct_prng_u16(base, c0, c));
        }
    }
    if (stochastic && sh >= 1) r->counter = rct_prng_after(c0, b->size);
    return rct_gavg_q16(abs_sum, b->size, sh);
}
