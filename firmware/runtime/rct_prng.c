/* The contract's counter-based PRNG (rct_tflm/fixedpoint/prng.py): draw(c) = mix32(mix32(c) + key). */
#include "rct.h"

void rct_prng_seed(rct_prng_t *r, uint32_t seed)
{
    r->key = seed;
    r->counter = 0u;
}

/* lowbias32 (C. Wellons); all arithmetic is uint32_t, i.e. mod 2^32. */
uint32_t rct_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

uint32_t rct_prng_next(rct_prng_t *r)
{
    const uint32_t c = r->counter;
    r->counter = c + 1u;
    return rct_mix32(rct_mix32(c) + r->key);
}

/* Start a new segment `times` times over (controller period boundaries): uint32_t wraps, so this
 * is key + times * stride mod 2^32, the same as re-keying once per boundary. */
void rct_prng_rekey(rct_prng_t *r, uint32_t times)
{
    r->key += times * RCT_PRNG_REKEY_STRIDE;
    r->counter = 0u;
}
