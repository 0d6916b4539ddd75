/* The firmware application: protocol dispatch on top of the generated model API (rct_model.h). */
#ifndef RCT_APP_H
#define RCT_APP_H

#include <stddef.h>
#include <stdint.h>

#include "rct_link.h"

/* Capability bits reported in HELLO. */
#define RCT_CAP_TRAIN 0x01u
#define RCT_CAP_INFER 0x02u
#define RCT_CAP_WEIGHTS 0x04u
#define RCT_CAP_FAULT_REPORT 0x08u
#define RCT_CAP_TEST_HOOKS 0x10u
#define RCT_CAP_STAGE 0x20u /* large samples arrive by SAMPLE_WRITE (RCT_APP_STAGE_BYTES > 0) */

/* The staging buffer for samples too large for one frame: a micro-batch of them, written in
 * chunks by SAMPLE_WRITE, then trained on or inferred (docs/protocol.md). 0: samples travel
 * whole inside TRAIN and INFER, as the frames are sized for them. */
#ifndef RCT_APP_STAGE_BYTES
#define RCT_APP_STAGE_BYTES 0u
#endif

/* Handles one valid request frame and sends exactly one response frame. */
void rct_app_dispatch(const rct_frame_t *req);
/* Resets the duplicate-request cache (used on boot). */
void rct_app_reset_session(void);
/* Serialises rct_model_get_stats() into buf; returns the byte count (docs/protocol.md, STATS). */
size_t rct_app_stats(uint8_t *buf, size_t cap);
/* Link counters the dispatcher reports in STATS. */
extern uint32_t rct_app_rx_errors;
/* The host's session nonce from the last HELLO (0 after boot): echoed in TRAIN, STATS and
 * DIGEST answers, so a board that restarted is recognised by its very next answer. */
extern uint32_t rct_app_session;

static inline void rct_put_u16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void rct_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t rct_get_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static inline uint32_t rct_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#endif
