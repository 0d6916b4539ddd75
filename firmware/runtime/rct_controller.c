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
    c->period_start = 0u;
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

/* The Gavg statistic of a period (BitwidthController.gavg_statistic): sum // steps, or
 * floor(sum * ref / span) computed as q * ref + (r * ref) / span with sum = q * span + r (no
 * 64-bit overflow: r * ref < 2^32 * 2^16), saturated to INT64_MAX. Sums are >= 0, so C's
 * truncating division is floor. */
static int64_t gavg_statistic(const rct_ctrl_config_t *cfg, int64_t sum, uint32_t steps,
                              uint32_t span)
{
    const uint64_t ref = cfg->gavg_ref_samples;
    uint64_t q, rem;
    if (ref == 0u) return sum / (int64_t)steps;
    q = (uint64_t)sum / span;
    rem = (uint64_t)sum % span;
    if (q > (uint64_t)INT64_MAX / ref) return INT64_MAX;
    q *= ref;
    rem = rem * ref / span;
    return q > (uint64_t)INT64_MAX - rem ? INT64_MAX : (int64_t)(q + rem);
}

/* Decide for one tensor at a period boundary; returns the action (0: none). */
static int32_t decide(const rct_controller_t *c, const rct_ctrl_slot_t *a, rct_tensor_t *t,
                      rct_prng_t *r, uint32_t span, int64_t *gavg_out, uint32_t *sat_out)
{
    const rct_ctrl_config_t *cfg = &c->cfg;
    int64_t gavg;
    uint32_t sat;
    if (!cfg->enabled || a->steps == 0u) return 0;
    gavg = gavg_statistic(cfg, a->gavg_sum_q16, a->steps, span);
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
    uint32_t crossed, span;
    c->samples += n_samples;
    if (c->samples < c->next_decision) return 0;
    crossed = 1u + (c->samples - c->next_decision) / c->cfg.period_samples;
    c->next_decision += c->cfg.period_samples * crossed;
    span = c->samples - c->period_start; /* samples the statistics were gathered over, >= 1 */
    c->period_start = c->samples;
    for (i = 0; i < c->n_slots; i++) {
        rct_ctrl_slot_t *a = &c->slots[i];
        rct_tensor_t *t = &tensors[i];
        const int32_t bits0 = t->bits, exp0 = t->exp;
        int64_t gavg = 0;
        uint32_t sat = 0u;
        const int32_t action = decide(c, a, t, r, span, &gavg, &sat);
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
