/* The contract's counter-based PRNG (rct_tflm/fixedpoint/prng.py): word(c) = mix32(mix32(key) + c).
 * rct_mix32 and the per-element uniforms (rct_prng_u16) are inline in rct.h. */
#include "rct.h"

void rct_prng_seed(rct_prng_t *r, uint32_t seed)
{
    r->key = seed;
    r->counter = 0u;
}

uint32_t rct_prng_next(rct_prng_t *r)
{
    const uint32_t c = r->counter;
    r->counter = c + 1u;
    return rct_mix32(rct_mix32(r->key) + c);
}

/* Start a new segment `times` times over (controller period boundaries): uint32_t wraps, so this
 * is key + times * stride mod 2^32, the same as re-keying once per boundary. */
void rct_prng_rekey(rct_prng_t *r, uint32_t times)
{
    r->key += times * RCT_PRNG_REKEY_STRIDE;
    r->counter = 0u;
}
