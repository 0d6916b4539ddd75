/* One element of the RCT update: q + round(-g / 2^sh), saturated to the tensor's bits. */
#include "rct.h"

int32_t rct_update_elem(int32_t q, int32_t g, int32_t sh, int32_t bits, int32_t stochastic,
                        uint32_t u16)
{
    const int64_t v = -(int64_t)g; /* |v| <= 2^31 */
    const int64_t step = stochastic ? rct_sr64(v, sh, u16) : rct_round_nearest64(v, sh);
    return (int32_t)rct_sat64((int64_t)q + step, bits);
}
