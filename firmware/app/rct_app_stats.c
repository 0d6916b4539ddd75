/* STATS payload (docs/protocol.md): u16 T, T x (u8 bits, i8 exp, i32 gavg_q16, u32 saturated),
 * i32 loss_q16, u32 samples, u32 steps, u32 decisions, u32 prng_counter, u32 link rx errors,
 * u32 session. */
#include "rct_app.h"
#include "rct_model.h"

size_t rct_app_stats(uint8_t *buf, size_t cap)
{
    static rct_stats_t s;
    rct_model_get_stats(&s);
    size_t n = 0;
    if (cap < 2 + 10u * RCT_MODEL_NUM_TRAINABLE + 28)
        return 0;
    rct_put_u16(buf + n, RCT_MODEL_NUM_TRAINABLE); n += 2;
    for (uint32_t t = 0; t < RCT_MODEL_NUM_TRAINABLE; t++) {
        buf[n++] = (uint8_t)s.tensors[t].bits;
        buf[n++] = (uint8_t)(int8_t)s.tensors[t].exp;
        rct_put_u32(buf + n, (uint32_t)s.tensors[t].gavg_q16); n += 4;
        rct_put_u32(buf + n, s.tensors[t].saturated); n += 4;
    }
    rct_put_u32(buf + n, (uint32_t)s.loss_q16); n += 4;
    rct_put_u32(buf + n, s.samples); n += 4;
    rct_put_u32(buf + n, s.steps); n += 4;
    rct_put_u32(buf + n, s.decisions); n += 4;
    rct_put_u32(buf + n, s.prng_counter); n += 4;
    rct_put_u32(buf + n, rct_app_rx_errors); n += 4;
    rct_put_u32(buf + n, rct_app_session); n += 4;
    return n;
}
