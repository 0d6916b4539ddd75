/* Contract stochastic shift of a block (rct_tflm/fixedpoint/rounding.py shift_round_stochastic). */
#include "rct.h"

void rct_round_stochastic_block(int64_t *v, int32_t count, int32_t s, rct_prng_t *r)
{
    const uint32_t base = rct_mix32(r->key), c0 = r->counter;
    int32_t k;
    if (s <= 0) { /* exact left shift: no draw */
        for (k = 0; k < count; k++) v[k] = rct_shl_sat64(v[k], -s);
        return;
    }
    for (k = 0; k < count; k++) v[k] = rct_sr64(v[k], s, rct_prng_u16(base, c0, k));
    r->counter = rct_prng_after(c0, count);
}
