/* TFLite's MultiplyByQuantizedMultiplier, double-rounding form (gemmlowp): the one rescaling of
 * every rct_tfl_ kernel. Shifts of negative values go through rct_asr64 (floor). */
#include "rct_tfl.h"

/* SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties away from zero, saturating the
 * single overflow case (INT32_MIN * INT32_MIN). */
static int32_t srdhm(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates toward 0 */
}

/* RoundingDivideByPOT: x / 2^e rounded to nearest, ties away from zero. */
static int32_t rdbp(int32_t x, int32_t e)
{
    int64_t q, rem, threshold;
    if (e == 0) return x;
    q = rct_asr64(x, e);
    rem = (int64_t)x - q * ((int64_t)1 << e); /* x & (2^e - 1) in two's complement */
    threshold = (((int64_t)1 << e) - 1) / 2 + (x < 0 ? 1 : 0);
    return (int32_t)(q + (rem > threshold ? 1 : 0));
}

int32_t rct_tfl_mbqm(int32_t x, int32_t qm, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return rdbp(srdhm((int32_t)((int64_t)x * ((int64_t)1 << left)), qm), right);
}
