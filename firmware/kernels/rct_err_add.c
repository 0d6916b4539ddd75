/* Sum of the two errors that reach a tensor read by two consumers (a residual skip): aligned
 * like rct_add_forward, then the dynamic int16 exponent (two passes). dx may alias da or db. */
#include "rct.h"

int32_t rct_err_add(const int16_t *da, int32_t da_exp, const int16_t *db, int32_t db_exp,
                    int16_t *dx, int32_t count)
{
    const int32_t e = rct_align_exp(da_exp, db_exp);
    const int32_t sa = e - da_exp, sb = e - db_exp;
    int64_t m = 0;
    int32_t i, shift;
    for (i = 0; i < count; i++) {
        const int64_t mag = rct_err_mag(rct_round_nearest64(da[i], sa) +
                                        rct_round_nearest64(db[i], sb));
        if (mag > m) m = mag;
    }
    shift = rct_err_shift(m);
    for (i = 0; i < count; i++) {
        const int64_t s = rct_round_nearest64(da[i], sa) + rct_round_nearest64(db[i], sb);
        dx[i] = (int16_t)rct_sat64(rct_round_nearest64(s, shift), 16);
    }
    return e + shift;
}
