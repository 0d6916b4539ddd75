/* Mean-squared-error loss head (docs/numerics.md, "MSE loss"): per sample d = y - t at the
 * common exponent e, error 2 d / m at e - 16 with one dynamic exponent for the batch (two
 * passes), and the sample's mean squared error in Q16.16 (the anomaly score). */
#include "rct.h"

#define MSE_GRAD_FRAC 16

static int64_t diff(const int8_t *y, const int8_t *t, int32_t i, int32_t sy, int32_t st)
{
    return rct_round_nearest64(y[i], sy) - rct_round_nearest64(t[i], st);
}

int32_t rct_mse_loss(const int8_t *y, int32_t y_exp, const int8_t *t, int32_t t_exp, int16_t *dy,
                     int32_t n, int32_t m, int32_t *loss_q16, int32_t *score_q16)
{
    const int32_t e = rct_align_exp(y_exp, t_exp);
    const int32_t sy = e - y_exp, st = e - t_exp, total = n * m;
    int64_t mx = 0, loss = 0;
    int32_t i, s, shift;
    for (i = 0; i < total; i++) {
        const int64_t g = rct_div_round64(diff(y, t, i, sy, st) * (1 << (MSE_GRAD_FRAC + 1)), m);
        const int64_t mag = rct_err_mag(g);
        if (mag > mx) mx = mag;
    }
    shift = rct_err_shift(mx);
    for (i = 0; i < total; i++) {
        const int64_t g = rct_div_round64(diff(y, t, i, sy, st) * (1 << (MSE_GRAD_FRAC + 1)), m);
        dy[i] = (int16_t)rct_sat64(rct_round_nearest64(g, shift), 16);
    }
    for (s = 0; s < n; s++) {
        int64_t sq = 0, score;
        int32_t j;
        for (j = 0; j < m; j++) {
            const int64_t d = diff(y, t, s * m + j, sy, st);
            sq += d * d;
        }
        score = rct_sat64(rct_div_round64(rct_round_nearest64(sq, -(2 * e + 16)), m), 32);
        if (score_q16 != NULL) score_q16[s] = (int32_t)score;
        loss = rct_sat64(loss + score, 32);
    }
    *loss_q16 = (int32_t)loss;
    return e - MSE_GRAD_FRAC + shift;
}
