/* ADD int8, as tflite-micro's reference AddFunc: inputs << 20, each rescaled to twice the larger
 * input scale, summed, rescaled to the output. */
#include "rct_tfl.h"

#define RCT_TFL_ADD_LEFT_SHIFT 20

void rct_tfl_add(const int8_t *a, const int8_t *b, int8_t *y, int32_t count,
                 const rct_tfl_add_t *p)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        const int32_t va = rct_tfl_mbqm((a[i] - p->zp_a) * (1 << RCT_TFL_ADD_LEFT_SHIFT),
                                        p->qm_a, p->shift_a);
        const int32_t vb = rct_tfl_mbqm((b[i] - p->zp_b) * (1 << RCT_TFL_ADD_LEFT_SHIFT),
                                        p->qm_b, p->shift_b);
        int32_t v = rct_tfl_mbqm(va + vb, p->qm_out, p->shift_out) + p->zp_out;
        y[i] = (int8_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
    }
}
