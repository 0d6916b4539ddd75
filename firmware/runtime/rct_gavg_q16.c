/* Gavg = mean |delta| in Q16.16 from sum |g| and the update shift, exactly in integers. */
#include "rct.h"

int32_t rct_gavg_q16(int64_t abs_sum, int32_t size, int32_t sh)
{
    const int64_t k = 16 - (int64_t)sh;
    int64_t q, rem, i;
    if (size <= 0 || abs_sum <= 0) return 0;
    if (k < 0) {
        if (-k >= 63) return 0;
        q = (abs_sum >> -k) / size; /* floor(floor(S / 2^m) / n) = floor(S / (2^m n)) */
        return q > INT32_MAX ? INT32_MAX : (int32_t)q;
    }
    /* floor(S * 2^k / n) by long division, one bit of k at a time: no 128-bit product, and the
     * loop ends within ~62 rounds (q doubles once non-zero, then saturates). */
    q = abs_sum / size;
    rem = abs_sum % size;
    for (i = 0; i < k && q <= INT32_MAX; i++) {
        rem *= 2;
        q *= 2;
        if (rem >= size) {
            rem -= size;
            q += 1;
        }
    }
    return q > INT32_MAX ? INT32_MAX : (int32_t)q;
}
