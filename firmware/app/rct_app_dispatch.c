/* Protocol dispatch: validates every request completely before touching the model, so a bad
 * request is NAKed with a reason and changes nothing (docs/protocol.md). */
#include "rct_app.h"
#include "rct_model.h"

static uint8_t rsp[RCT_LINK_MAX_PAYLOAD];

/* Duplicate detection: the host retransmits when a response is lost; a repeated mutating
 * request must not be applied twice, so its (small) response is cached and resent. */
static struct {
    uint8_t valid, type, seq, msg, n;
    uint8_t payload[8];
} last;

void rct_app_reset_session(void) { last.valid = 0; }

static void nak(uint8_t seq, uint8_t reason, const char *text)
{
    size_t n = 0;
    rsp[n++] = reason;
    while (*text && n < 80)
        rsp[n++] = (uint8_t)*text++;
    rct_link_send(RCT_MSG_NAK, seq, rsp, n);
}

static int is_mutating(uint8_t type)
{
    return type == RCT_MSG_TRAIN || type == RCT_MSG_WEIGHTS_WRITE || type == RCT_MSG_SET_HPARAMS ||
           type == RCT_MSG_RESET || type == RCT_MSG_TRAIN_STAGED;
}

/* Sends a response and caches it when the request changed state. */
static void reply(const rct_frame_t *req, uint8_t msg, const uint8_t *p, size_t n)
{
    if (is_mutating(req->type) && n <= sizeof last.payload) {
        last.valid = 1;
        last.type = req->type;
        last.seq = req->seq;
        last.msg = msg;
        last.n = (uint8_t)n;
        for (size_t i = 0; i < n; i++)
            last.payload[i] = p[i];
    }
    rct_link_send(msg, req->seq, p, n);
}

static void nak_cached(const rct_frame_t *req, uint8_t reason, const char *text)
{
    nak(req->seq, reason, text);
    if (is_mutating(req->type)) { /* a repeated bad request gets the same NAK, recomputed */
        last.valid = 0;
    }
}

static uint32_t app_samples;
uint32_t rct_app_session;

/* A sample's target record on the wire (protocol 5): a uint16 LE label, a regression model's
 * RCT_MODEL_TARGET_SIZE int8 values, or nothing (an autoencoder: the input is the target).
 * INFER carries one only for a regression model (its score needs the target). */
#define TARGET_BYTES ((uint32_t)RCT_MODEL_TARGET_SIZE * (uint32_t)sizeof(rct_target_t))
#define INFER_TARGET_BYTES (RCT_MODEL_LOSS_MSE ? TARGET_BYTES : 0u)
#ifndef RCT_MODEL_MAX_BATCH
#define RCT_MODEL_MAX_BATCH 255
#endif
/* One micro-batch's targets decoded from the frame's bytes (labels need 2-byte alignment). */
static rct_target_t targets_buf[RCT_MODEL_MAX_BATCH * (RCT_MODEL_TARGET_SIZE > 0 ? RCT_MODEL_TARGET_SIZE : 1)];

static const rct_target_t *decode_targets(const uint8_t *p, uint32_t samples)
{
    const uint32_t k = samples * (uint32_t)RCT_MODEL_TARGET_SIZE;
    if (RCT_MODEL_TARGET_SIZE == 0)
        return NULL;
    for (uint32_t i = 0; i < k; i++)
        targets_buf[i] = sizeof(rct_target_t) == 2 ? (rct_target_t)rct_get_u16(p + 2 * i)
                                                   : (rct_target_t)(int8_t)p[i];
    return targets_buf;
}

#if RCT_APP_STAGE_BYTES > 0
/* Staged samples: bytes [0, stage_fill) were written in order since the last TRAIN_STAGED. */
static int8_t stage[RCT_APP_STAGE_BYTES];
static uint32_t stage_fill;
#endif

static void do_hello(const rct_frame_t *req)
{
    size_t n = 0;
    rsp[n++] = RCT_PROTO_VERSION;
    uint8_t caps = RCT_CAP_TRAIN | RCT_CAP_INFER | RCT_CAP_WEIGHTS;
#if RCT_APP_STAGE_BYTES > 0
    caps |= RCT_CAP_STAGE;
#endif
#ifdef RCT_FAULT_REPORT /* Cortex-M builds link firmware/boards/common/fault.c */
    caps |= RCT_CAP_FAULT_REPORT;
#endif
#ifdef RCT_TEST_HOOKS
    caps |= RCT_CAP_TEST_HOOKS;
#endif
    rsp[n++] = caps;
    rct_put_u16(rsp + n, RCT_LINK_MAX_PAYLOAD); n += 2;
    rct_put_u16(rsp + n, RCT_MODEL_INPUT_SIZE); n += 2;
    rct_put_u16(rsp + n, RCT_MODEL_NUM_CLASSES); n += 2;
    rct_put_u16(rsp + n, RCT_MODEL_NUM_TRAINABLE); n += 2;
    rct_put_u32(rsp + n, rct_model_weights_size()); n += 4;
    for (int i = 0; i < 32; i++)
        rsp[n++] = rct_model_hash[i];
    size_t len_at = n++;
    for (const char *s = rct_board_name; *s && n < 80; s++)
        rsp[n++] = (uint8_t)*s;
    rsp[len_at] = (uint8_t)(n - len_at - 1);
    /* a new session starts with HELLO: the host's nonce (0 without one) and no cached reply */
    rct_app_session = req->n >= 4 ? rct_get_u32(req->payload) : 0u;
    rct_put_u32(rsp + n, rct_app_session); n += 4;
    rct_put_u32(rsp + n, RCT_APP_STAGE_BYTES); n += 4;
    rsp[n++] = (uint8_t)RCT_MODEL_LOSS_MSE; /* protocol 5: the loss head and target record */
    rct_put_u16(rsp + n, TARGET_BYTES); n += 2;
    rct_put_u16(rsp + n, INFER_TARGET_BYTES); n += 2;
#if RCT_APP_STAGE_BYTES > 0
    stage_fill = 0; /* a new session stages from scratch */
#endif
    rct_app_reset_session();
    rct_link_send(RCT_MSG_ACK, req->seq, rsp, n);
}

/* Trains on `count` samples at x with their target records at t, in micro-batches of `batch`
 * (labels checked first, so a bad one changes nothing), and answers. */
static void train_samples(const rct_frame_t *req, uint32_t batch, uint32_t count,
                          const int8_t *x, const uint8_t *t)
{
    const uint32_t in = RCT_MODEL_INPUT_SIZE;
    if (!RCT_MODEL_LOSS_MSE)
        for (uint32_t i = 0; i < count; i++)
            if (rct_get_u16(t + 2 * i) >= RCT_MODEL_NUM_CLASSES)
                return nak_cached(req, RCT_NAK_BAD_ARG, "train: label >= number of classes");
    for (uint32_t s = 0; s < count; s += batch) {
        if (rct_model_train(x + s * in, decode_targets(t + s * TARGET_BYTES, batch),
                            (uint16_t)batch) != 0)
            return nak_cached(req, RCT_NAK_MODEL, "train: model error");
        app_samples += batch;
    }
    uint8_t p[8];
    rct_put_u32(p, app_samples);
    rct_put_u32(p + 4, rct_app_session);
    reply(req, RCT_MSG_ACK, p, sizeof p);
}

/* The batch/count header of TRAIN and TRAIN_STAGED; 0 = NAKed. */
static int train_header(const rct_frame_t *req, uint32_t *batch, uint32_t *count)
{
    if (req->n < 2) {
        nak_cached(req, RCT_NAK_BAD_LENGTH, "train: missing batch/count header");
        return 0;
    }
    *batch = req->payload[0], *count = req->payload[1];
    if (*batch == 0 || *count == 0 || *count % *batch != 0) {
        nak_cached(req, RCT_NAK_BAD_ARG, "train: count must be a multiple of batch >= 1");
        return 0;
    }
#ifdef RCT_MODEL_MAX_BATCH
    if (*batch > RCT_MODEL_MAX_BATCH) {
        nak_cached(req, RCT_NAK_BAD_ARG, "train: batch > RCT_MODEL_MAX_BATCH");
        return 0;
    }
#endif
    return 1;
}

static void do_train(const rct_frame_t *req)
{
    const uint32_t in = RCT_MODEL_INPUT_SIZE;
    uint32_t batch, count;
    if (!train_header(req, &batch, &count))
        return;
    if (req->n != 2 + count * (in + TARGET_BYTES))
        return nak_cached(req, RCT_NAK_BAD_LENGTH, "train: sample size != model input size");
    train_samples(req, batch, count, (const int8_t *)(req->payload + 2),
                  req->payload + 2 + count * in);
}

/* Infers `count` samples at x (a regression model: with their targets at t) and answers a
 * result i32 per sample (the class, or an MSE model's Q16.16 score), then the logits. */
static void infer_samples(const rct_frame_t *req, uint32_t count, uint32_t logits,
                          const int8_t *x, const uint8_t *t)
{
    const uint32_t in = RCT_MODEL_INPUT_SIZE, c = RCT_MODEL_NUM_CLASSES;
    if (count * (4 + (logits ? 4 * c : 0)) > RCT_LINK_MAX_PAYLOAD)
        return nak(req->seq, RCT_NAK_BAD_ARG, "infer: response would exceed max payload");
    int32_t lg[RCT_MODEL_NUM_CLASSES];
    for (uint32_t s = 0; s < count; s++) {
        const rct_target_t *ts = INFER_TARGET_BYTES ? decode_targets(t + s * TARGET_BYTES, 1) : NULL;
        int32_t k = rct_model_infer(x + s * in, ts, lg);
        if (k < 0)
            return nak(req->seq, RCT_NAK_MODEL, "infer: model error");
        rct_put_u32(rsp + 4 * s, (uint32_t)k);
        if (logits)
            for (uint32_t j = 0; j < c; j++)
                rct_put_u32(rsp + 4 * count + 4 * (s * c + j), (uint32_t)lg[j]);
    }
    rct_link_send(RCT_MSG_ACK, req->seq, rsp, count * (4 + (logits ? 4 * c : 0)));
}

static void do_infer(const rct_frame_t *req)
{
    const uint32_t in = RCT_MODEL_INPUT_SIZE;
    if (req->n < 2)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "infer: missing count/flags header");
    uint32_t count = req->payload[0], logits = req->payload[1] & 1u;
    if (req->n != 2 + count * (in + INFER_TARGET_BYTES))
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "infer: sample size != model input size");
    infer_samples(req, count, logits, (const int8_t *)(req->payload + 2),
                  req->payload + 2 + count * in);
}

#if RCT_APP_STAGE_BYTES > 0
/* offset u32 + data: continues (or, at offset 0, restarts) the staged bytes. Rewriting the
 * last chunk is harmless, so a retransmission needs no duplicate cache. */
static void do_sample_write(const rct_frame_t *req)
{
    if (req->n < 4)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "sample_write: need offset u32 + data");
    uint32_t off = rct_get_u32(req->payload), n = (uint32_t)req->n - 4;
    if (off > stage_fill || off > RCT_APP_STAGE_BYTES || n > RCT_APP_STAGE_BYTES - off)
        return nak(req->seq, RCT_NAK_BAD_ARG, "sample_write: offset past the staged bytes");
    for (uint32_t i = 0; i < n; i++)
        stage[off + i] = (int8_t)req->payload[4 + i];
    stage_fill = off + n;
    uint8_t p[4];
    rct_put_u32(p, stage_fill);
    rct_link_send(RCT_MSG_ACK, req->seq, p, sizeof p);
}

/* batch u8, count u8, count target records: trains on exactly the staged samples, then empties the
 * stage (a retransmitted request is answered from the duplicate cache). */
static void do_train_staged(const rct_frame_t *req)
{
    uint32_t batch, count;
    if (!train_header(req, &batch, &count))
        return;
    if (req->n != 2 + count * TARGET_BYTES)
        return nak_cached(req, RCT_NAK_BAD_LENGTH, "train_staged: need count target records");
    if (stage_fill != count * RCT_MODEL_INPUT_SIZE)
        return nak_cached(req, RCT_NAK_BAD_LENGTH, "train_staged: staged bytes != count samples");
    stage_fill = 0;
    train_samples(req, batch, count, stage, req->payload + 2);
}

/* count u8, flags u8 (a regression model: count target records): infers the staged samples
 * (they stay staged: a retransmission works). */
static void do_infer_staged(const rct_frame_t *req)
{
    if (req->n < 2)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "infer_staged: need count/flags header");
    uint32_t count = req->payload[0], logits = req->payload[1] & 1u;
    if (req->n != 2 + count * INFER_TARGET_BYTES)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "infer_staged: need count/flags header");
    if (stage_fill != count * RCT_MODEL_INPUT_SIZE)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "infer_staged: staged bytes != count samples");
    infer_samples(req, count, logits, stage, req->payload + 2);
}
#endif

static void do_weights_read(const rct_frame_t *req)
{
    if (req->n != 6)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "weights_read: need offset u32 + length u16");
    uint32_t off = rct_get_u32(req->payload), n = rct_get_u16(req->payload + 4);
    uint32_t size = rct_model_weights_size();
    if (n > RCT_LINK_MAX_PAYLOAD || off > size || n > size - off)
        return nak(req->seq, RCT_NAK_BAD_ARG, "weights_read: range outside the weights");
    if (rct_model_weights_read(off, rsp, n) != 0)
        return nak(req->seq, RCT_NAK_MODEL, "weights_read: model error");
    rct_link_send(RCT_MSG_ACK, req->seq, rsp, n);
}

static void do_weights_write(const rct_frame_t *req)
{
    if (req->n < 4)
        return nak_cached(req, RCT_NAK_BAD_LENGTH, "weights_write: need offset u32 + data");
    uint32_t off = rct_get_u32(req->payload), n = (uint32_t)req->n - 4;
    uint32_t size = rct_model_weights_size();
    if (off > size || n > size - off)
        return nak_cached(req, RCT_NAK_BAD_ARG, "weights_write: range outside the weights");
    if (rct_model_weights_write(off, req->payload + 4, n) != 0)
        return nak_cached(req, RCT_NAK_MODEL, "weights_write: model rejected the data");
    reply(req, RCT_MSG_ACK, rsp, 0);
}

/* The hyper-parameter record of SET_HPARAMS and HPARAMS_GET (21 bytes, docs/protocol.md). */
#define HPARAMS_BYTES 21u
/* The contract's shortest decision period (rct_tflm/fixedpoint/controller.py). */
#define MIN_PERIOD_SAMPLES 512u

static void do_set_hparams(const rct_frame_t *req)
{
    if (req->n != HPARAMS_BYTES)
        return nak_cached(req, RCT_NAK_BAD_LENGTH, "set_hparams: need 21 bytes");
    const uint8_t *p = req->payload;
    rct_hparams_t h;
    h.lr_shift = p[0];
    h.t_min_q16 = (int32_t)rct_get_u32(p + 1);
    h.t_max_q16 = (int32_t)rct_get_u32(p + 5);
    h.sat_guard_ppm = rct_get_u32(p + 9);
    h.period_samples = rct_get_u32(p + 13);
    h.seed = rct_get_u32(p + 17);
    /* The same ranges the golden model's EngineConfig/ControllerConfig accept. */
    if (h.lr_shift > 30 || h.t_min_q16 <= 0 || (int64_t)h.t_max_q16 <= 2 * (int64_t)h.t_min_q16 ||
        h.sat_guard_ppm >= 1000000u ||
        h.period_samples < MIN_PERIOD_SAMPLES)
        return nak_cached(req, RCT_NAK_BAD_ARG,
                          "set_hparams: need lr_shift<=30, 0<2*t_min<t_max, sat<1e6, period>=512");
    rct_model_set_hparams(&h);
    reply(req, RCT_MSG_ACK, rsp, 0);
}

static void do_hparams_get(const rct_frame_t *req)
{
    if (req->n != 0)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "hparams_get: takes no payload");
    rct_hparams_t h;
    rct_model_get_hparams(&h);
    rsp[0] = (uint8_t)h.lr_shift;
    rct_put_u32(rsp + 1, (uint32_t)h.t_min_q16);
    rct_put_u32(rsp + 5, (uint32_t)h.t_max_q16);
    rct_put_u32(rsp + 9, h.sat_guard_ppm);
    rct_put_u32(rsp + 13, h.period_samples);
    rct_put_u32(rsp + 17, h.seed);
    rct_link_send(RCT_MSG_ACK, req->seq, rsp, HPARAMS_BYTES);
}

static void do_reset(const rct_frame_t *req)
{
    if (req->n != 4)
        return nak_cached(req, RCT_NAK_BAD_LENGTH, "reset: need seed u32");
    if (rct_model_init(rct_get_u32(req->payload)) != 0)
        return nak_cached(req, RCT_NAK_MODEL, "reset: model init failed");
    app_samples = 0;
    reply(req, RCT_MSG_ACK, rsp, 0);
}

/* What a checkpoint is verified against: the board's session, its sample count since RESET and
 * the CRC-32 of the weights blob exactly as WEIGHTS_READ serialises it. */
static void do_digest(const rct_frame_t *req)
{
    if (req->n != 0)
        return nak(req->seq, RCT_NAK_BAD_LENGTH, "digest: takes no payload");
    uint32_t size = rct_model_weights_size(), crc = 0;
    uint8_t chunk[32];
    for (uint32_t off = 0; off < size; off += sizeof chunk) {
        uint32_t k = size - off < sizeof chunk ? size - off : (uint32_t)sizeof chunk;
        if (rct_model_weights_read(off, chunk, k) != 0)
            return nak(req->seq, RCT_NAK_MODEL, "digest: model error");
        crc = rct_crc32(crc, chunk, k);
    }
    rct_put_u32(rsp, rct_app_session);
    rct_put_u32(rsp + 4, app_samples);
    rct_put_u32(rsp + 8, crc);
    rct_link_send(RCT_MSG_ACK, req->seq, rsp, 12);
}

void rct_app_dispatch(const rct_frame_t *req)
{
    /* The host is stop-and-wait: a new seq means it got our last response, so only the
     * immediately repeated request is a duplicate (safe across seq wrap-around). */
    if (last.valid && req->seq != last.seq)
        last.valid = 0;
    if (last.valid && req->type == last.type) {
        rct_link_send(last.msg, last.seq, last.payload, last.n); /* retransmitted request */
        return;
    }
    switch (req->type) {
    case RCT_MSG_HELLO: do_hello(req); break;
    case RCT_MSG_TRAIN: do_train(req); break;
    case RCT_MSG_INFER: do_infer(req); break;
    case RCT_MSG_STATS: rct_link_send(RCT_MSG_ACK, req->seq, rsp, rct_app_stats(rsp, sizeof rsp)); break;
    case RCT_MSG_WEIGHTS_READ: do_weights_read(req); break;
    case RCT_MSG_WEIGHTS_WRITE: do_weights_write(req); break;
    case RCT_MSG_SET_HPARAMS: do_set_hparams(req); break;
    case RCT_MSG_RESET: do_reset(req); break;
    case RCT_MSG_HPARAMS_GET: do_hparams_get(req); break;
    case RCT_MSG_DIGEST: do_digest(req); break;
#if RCT_APP_STAGE_BYTES > 0
    case RCT_MSG_SAMPLE_WRITE: do_sample_write(req); break;
    case RCT_MSG_TRAIN_STAGED: do_train_staged(req); break;
    case RCT_MSG_INFER_STAGED: do_infer_staged(req); break;
#endif
#ifdef RCT_TEST_HOOKS
    case RCT_MSG_FAULT_TEST: {
        /* Jump to an address in the never-executable system region: the fault handler reports. */
        void (*volatile bad)(void) = (void (*)(void))0xFFFFFFF1u;
        bad();
        break;
    }
#endif
    default: nak(req->seq, RCT_NAK_UNKNOWN, "unknown message type"); break;
    }
}
