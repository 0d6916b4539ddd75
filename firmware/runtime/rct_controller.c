/* The RCT bitwidth controller in integers: the same decisions, in the same order, as
 * rct_tflm/fixedpoint/controller.py (BitwidthController.observe / advance / _decide), and the
 * same PRNG re-keying at every period boundary it crosses. */
#include <stddef.h>
#include "rct.h"

#define RCT_PPM 1000000

void rct_controller_init(rct_controller_t *c, const rct_ctrl_config_t *cfg,
                         rct_ctrl_slot_t *slots, const uint8_t *bits_max, int32_t n_slots)
{
    int32_t i;
    c->cfg = *cfg;
    c->slots = slots;
    c->n_slots = n_slots;
    c->samples = 0u;
    c->next_decision = cfg->period_samples;
    for (i = 0; i < n_slots; i++) {
        const uint8_t cap = bits_max != NULL ? bits_max[i] : cfg->bits_max;
        slots[i].gavg_sum_q16 = 0;
        slots[i].steps = 0u;
        slots[i].bits_max = cap < cfg->bits_max ? cap : cfg->bits_max;
        slots[i].pad_[0] = slots[i].pad_[1] = slots[i].pad_[2] = 0u;
    }
}

void rct_controller_observe(rct_controller_t *c, int32_t slot, int32_t gavg_q16)
{
    c->slots[slot].gavg_sum_q16 += gavg_q16;
    c->slots[slot].steps += 1u;
}

/* Decide for one tensor at a period boundary; returns the action (0: none). */
static int32_t decide(const rct_controller_t *c, const rct_ctrl_slot_t *a, rct_tensor_t *t,
                      rct_prng_t *r, int64_t *gavg_out, uint32_t *sat_out)
{
    const rct_ctrl_config_t *cfg = &c->cfg;
    int64_t gavg;
    uint32_t sat;
    if (!cfg->enabled || a->steps == 0u) return 0;
    gavg = a->gavg_sum_q16 / (int64_t)a->steps; /* sums are >= 0: C division is floor */
    sat = rct_saturated_count(t);
    *gavg_out = gavg;
    *sat_out = sat;
    if ((uint64_t)sat * RCT_PPM > (uint64_t)cfg->sat_guard_ppm * (uint64_t)t->size &&
        t->bits < a->bits_max) {
        rct_add_high_bit(t);
        return RCT_ACTION_ADD_HIGH;
    }
    if (gavg < cfg->t_min_q16 && t->bits < a->bits_max) {
        rct_add_low_bit(t);
        return RCT_ACTION_ADD_LOW;
    }
    if (gavg > cfg->t_max_q16 && t->bits > cfg->bits_min) {
        rct_drop_low_bit(t, r);
        return RCT_ACTION_DROP_LOW;
    }
    return 0;
}

int32_t rct_controller_advance(rct_controller_t *c, uint32_t n_samples, rct_tensor_t *tensors,
                               rct_prng_t *r, rct_decision_t *out, int32_t max_out)
{
    int32_t i, made = 0;
    uint32_t crossed;
    c->samples += n_samples;
    if (c->samples < c->next_decision) return 0;
    crossed = 1u + (c->samples - c->next_decision) / c->cfg.period_samples;
    c->next_decision += c->cfg.period_samples * crossed;
    for (i = 0; i < c->n_slots; i++) {
        rct_ctrl_slot_t *a = &c->slots[i];
        rct_tensor_t *t = &tensors[i];
        const int32_t bits0 = t->bits, exp0 = t->exp;
        int64_t gavg = 0;
        uint32_t sat = 0u;
        const int32_t action = decide(c, a, t, r, &gavg, &sat);
        if (action != 0) {
            if (out != NULL && made < max_out) {
                rct_decision_t *d = &out[made];
                d->sample = c->samples;
                d->tensor = i;
                d->action = action;
                d->bits_before = bits0;
                d->bits_after = t->bits;
                d->exp_before = exp0;
                d->exp_after = t->exp;
                d->gavg_q16 = gavg > INT32_MAX ? INT32_MAX : (int32_t)gavg;
                d->saturated = sat;
            }
            made++;
        }
        a->gavg_sum_q16 = 0;
        a->steps = 0u;
    }
    rct_prng_rekey(r, crossed); /* after the decisions' draws: the next segment starts */
    return made;
}
