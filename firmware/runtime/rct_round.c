/* Contract stochastic shift (rct_tflm/fixedpoint/rounding.py shift_round_stochastic), int64. */
#include "rct.h"

int64_t rct_round_stochastic64(int64_t v, int32_t s, rct_prng_t *r)
{
    int32_t s1, rest;
    int64_t out;
    if (s <= 0) return rct_shl_sat64(v, -s); /* exact left shift: no draw */
    s1 = s < 31 ? s : 31;                     /* the draw supplies at most 31 fraction bits */
    out = rct_asr64(v + (int64_t)(rct_prng_next(r) >> (32 - s1)), s1);
    rest = s - s1;                            /* beyond 31 bits: exact floor shift */
    if (rest >= 63) return out < 0 ? -1 : 0;
    return rct_asr64(out, rest);
}
