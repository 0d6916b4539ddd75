/* One-pass dynamic int16 error exponent (see rct.h): exact, no int64 scratch. */
#include "rct.h"

static uint16_t *sign_bits(const rct_err_stream_t *e)
{
    return (uint16_t *)(e->dx + e->count);
}

static void store(rct_err_stream_t *e, int32_t i, int64_t t) /* -2^16 <= t < 2^16 */
{
    uint16_t *hb = sign_bits(e);
    const uint16_t bit = (uint16_t)(1u << (i & 15));
    ((uint16_t *)e->dx)[i] = (uint16_t)(t & 0xFFFF);
    if (t < 0) hb[i >> 4] = (uint16_t)(hb[i >> 4] | bit);
    else hb[i >> 4] = (uint16_t)(hb[i >> 4] & ~bit);
}

static int64_t load(const rct_err_stream_t *e, int32_t i)
{
    const int64_t lo = ((const uint16_t *)e->dx)[i];
    return (sign_bits(e)[i >> 4] >> (i & 15)) & 1 ? lo - 65536 : lo;
}

void rct_err_stream_begin(rct_err_stream_t *e, int16_t *dx, int32_t count)
{
    e->dx = dx;
    e->count = count;
    e->i = 0;
    e->a = 0;
    e->m = 0;
}

void rct_err_stream_put(rct_err_stream_t *e, int64_t v)
{
    const int64_t mag = rct_err_mag(v);
    if (mag > e->m) {
        const int32_t a = rct_err_shift(mag) - 1; /* bitlen - 16 when that is >= 1 */
        e->m = mag;
        if (a > e->a) { /* re-floor what is stored: floor(floor(v/2^a0)/2^k) = floor(v/2^a) */
            int32_t j;
            for (j = 0; j < e->i; j++) store(e, j, rct_asr64(load(e, j), a - e->a));
            e->a = a;
        }
    }
    store(e, e->i, rct_asr64(v, e->a));
    e->i++;
}

int32_t rct_err_stream_finish(rct_err_stream_t *e)
{
    const int32_t shift = rct_err_shift(e->m);
    const int32_t d = shift - e->a; /* 0 (a = shift = 0) or 1 */
    int32_t j;
    for (j = 0; j < e->i; j++) {
        const int64_t t = load(e, j);
        e->dx[j] = (int16_t)rct_sat64(d ? rct_asr64(t + 1, 1) : t, 16);
    }
    return shift;
}
