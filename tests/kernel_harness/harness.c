/* Kernel test harness: a loop of request -> kernel call -> response over a byte stream, so the
 * same driver runs on the host (stdin/stdout, sanitizers) and on Cortex-M under QEMU (UART).
 * No malloc: arrays live in a static pool reset per request.
 *
 * At start the harness sends one READY frame: u32 magic "RCTH", u32 protocol version, u32 pool
 * bytes, u32 sizeof(long), u32 sizeof(void *) (a UART may drop bytes sent before it is enabled,
 * so the host waits for this before its first request).
 * Frame (little-endian): u32 magic, u32 op (response: status), u32 n_ints, i64 ints[n_ints],
 * u32 n_arrays, then per array: u32 type, u32 count, count elements. Types: 1 i8, 2 i16, 4 i32,
 * 8 i64, 0x101 u8, 0x104 u32. Weight tensors travel as i16 values plus their bits; the harness
 * stores them in the container of their bitwidth (int8 when bits <= 8).
 * Response status: 0 ok, 1 bad op or arguments, 2 pool exhausted (the request was read to its
 * end and no kernel ran on a partial allocation). */
#include <setjmp.h>
#include <stddef.h>
#include <string.h>
#include "harness_io.h"
#include "rct.h"
#include "rct_tfl.h"

#define MAGIC_REQ 0x51544352u   /* "RCTQ" */
#define MAGIC_RSP 0x41544352u   /* "RCTA" */
#define MAGIC_READY 0x48544352u /* "RCTH" */
#define PROTO_VERSION 1u
#define MAX_INTS 256
#define MAX_ARRAYS 16
#ifndef HARNESS_POOL_BYTES
#define HARNESS_POOL_BYTES (2u << 20) /* host; Cortex-M builds pass a RAM-sized value */
#endif
#define POOL_WORDS (HARNESS_POOL_BYTES / 8u)
#define ST_BAD 1
#define ST_POOL 2

enum { T_I8 = 1, T_I16 = 2, T_I32 = 4, T_I64 = 8, T_U8 = 0x101, T_U32 = 0x104 };

typedef struct {
    uint32_t type, count;
    void *data;
} arr_t;

static int64_t pool[POOL_WORDS];
static uint32_t pool_used;
static int64_t in_ints[MAX_INTS], out_ints[MAX_INTS];
static uint32_t n_in_ints, n_out_ints, n_in_arrays, n_out_arrays;
static arr_t in_arr[MAX_ARRAYS], out_arr[MAX_ARRAYS];
static int failed;
static jmp_buf pool_out; /* palloc failure inside a kernel call: back to the main loop */
static int in_dispatch;

static uint32_t elem_size(uint32_t type)
{
    return type & 0xFFu;
}

static void *palloc(uint32_t bytes)
{
    const uint32_t words = (bytes + 7u) / 8u;
    void *p;
    if (bytes > HARNESS_POOL_BYTES || pool_used + words > POOL_WORDS) {
        failed = ST_POOL;
        if (in_dispatch) longjmp(pool_out, 1);
        return NULL;
    }
    p = &pool[pool_used];
    memset(p, 0, (size_t)words * 8u);
    pool_used += words;
    return p;
}

static void *out_array(uint32_t type, int32_t count)
{
    arr_t *a;
    if (n_out_arrays >= MAX_ARRAYS || count < 0) {
        failed = ST_BAD;
        return NULL;
    }
    a = &out_arr[n_out_arrays++];
    a->type = type;
    a->count = (uint32_t)count;
    a->data = palloc(a->count * elem_size(type) + 8u);
    return a->data;
}

static void out_int(int64_t v)
{
    if (n_out_ints < MAX_INTS) out_ints[n_out_ints++] = v;
    else failed = ST_BAD;
}

static int32_t I(uint32_t k)
{
    return k < n_in_ints ? (int32_t)in_ints[k] : 0;
}

static void *A(uint32_t k)
{
    return k < n_in_arrays ? in_arr[k].data : NULL;
}

static int32_t N(uint32_t k)
{
    return k < n_in_arrays ? (int32_t)in_arr[k].count : 0;
}

/* Weights (i16 values) -> container of `bits`. */
static const void *weights(uint32_t k, int32_t bits)
{
    const int16_t *src = (const int16_t *)A(k);
    const int32_t n = N(k);
    int32_t i;
    void *dst;
    if (bits > 8) return src;
    dst = palloc((uint32_t)n + 8u);
    if (dst == NULL) return NULL;
    for (i = 0; i < n; i++) ((int8_t *)dst)[i] = (int8_t)src[i];
    return dst;
}

/* A trainable tensor from i16 values (trainable tensors are always int16). */
static void tensor_in(rct_tensor_t *t, uint32_t k, int32_t exp, int32_t bits)
{
    const int16_t *src = (const int16_t *)A(k);
    int32_t i;
    t->size = N(k);
    t->exp = (int16_t)exp;
    t->bits = (uint8_t)bits;
    t->pad_ = 0u;
    t->data = (int16_t *)palloc((uint32_t)t->size * 2u + 8u);
    if (t->data == NULL) return;
    for (i = 0; i < t->size; i++) t->data[i] = src[i];
}

static void tensor_out(const rct_tensor_t *t)
{
    int16_t *q = (int16_t *)out_array(T_I16, t->size);
    int32_t i;
    if (q == NULL) return;
    for (i = 0; i < t->size; i++) q[i] = t->data[i];
}

static void shape_in(rct_conv_shape_t *s, uint32_t k)
{
    s->n = I(k); s->in_h = I(k + 1); s->in_w = I(k + 2); s->in_c = I(k + 3);
    s->out_h = I(k + 4); s->out_w = I(k + 5); s->out_c = I(k + 6);
    s->k_h = I(k + 7); s->k_w = I(k + 8); s->stride_h = I(k + 9); s->stride_w = I(k + 10);
    s->pad_top = I(k + 11); s->pad_left = I(k + 12); s->depth_multiplier = I(k + 13);
}

static int32_t out_size(const rct_conv_shape_t *s)
{
    return s->n * s->out_h * s->out_w * s->out_c;
}

static int32_t in_size(const rct_conv_shape_t *s)
{
    return s->n * s->in_h * s->in_w * s->in_c;
}

static void prng_in(rct_prng_t *r, uint32_t k)
{
    r->key = (uint32_t)in_ints[k];
    r->counter = (uint32_t)in_ints[k + 1];
}

static void run_controller(void)
{
    /* ints: t_min, t_max, ppm, period, bits_min, bits_max, enabled, n_tensors, key, counter,
     * gavg_ref_samples, then per tensor (exp, bits, cap); arrays: one q (i16) per tensor, then events i64
     * [kind, a, b]*: kind 0 = observe(slot a, gavg b), kind 1 = advance(a samples).
     * Out arrays: decisions [k, 9]; after every advance (samples, PRNG key, PRNG counter);
     * the tensors. Out ints: per tensor (exp, bits), PRNG counter, samples. */
    rct_ctrl_config_t cfg;
    rct_controller_t c;
    rct_ctrl_slot_t slots[8];
    rct_tensor_t t[8];
    uint8_t caps[8];
    rct_decision_t dec[64];
    rct_prng_t r;
    const int32_t nt = I(7);
    const int64_t *ev;
    int32_t i, ne, total = 0, n_adv = 0, adv = 0;
    int64_t *log, *states;
    uint32_t log_arr;
    if (nt < 1 || nt > 8) {
        failed = ST_BAD;
        return;
    }
    cfg.t_min_q16 = I(0); cfg.t_max_q16 = I(1); cfg.sat_guard_ppm = (uint32_t)I(2);
    cfg.period_samples = (uint32_t)I(3); cfg.bits_min = (uint8_t)I(4);
    cfg.bits_max = (uint8_t)I(5); cfg.enabled = (uint8_t)I(6); cfg.pad_ = 0u;
    cfg.gavg_ref_samples = (uint32_t)I(10);
    prng_in(&r, 8);
    for (i = 0; i < nt; i++) {
        tensor_in(&t[i], (uint32_t)i, I(11u + 3u * (uint32_t)i), I(12u + 3u * (uint32_t)i));
        caps[i] = (uint8_t)I(13u + 3u * (uint32_t)i);
    }
    rct_controller_init(&c, &cfg, slots, caps, nt);
    ev = (const int64_t *)A((uint32_t)nt);
    ne = N((uint32_t)nt) / 3;
    for (i = 0; i < ne; i++) n_adv += ev[3 * i] != 0;
    log_arr = n_out_arrays;
    log = (int64_t *)out_array(T_I64, 64 * 9);
    states = (int64_t *)out_array(T_I64, 3 * n_adv);
    if (log == NULL || states == NULL) return;
    for (i = 0; i < ne; i++) {
        if (ev[3 * i] == 0) {
            rct_controller_observe(&c, (int32_t)ev[3 * i + 1], (int32_t)ev[3 * i + 2]);
        } else {
            const int32_t room = 64 - total;
            int32_t made = rct_controller_advance(&c, (uint32_t)ev[3 * i + 1], t, &r, dec, room);
            int32_t k;
            if (made > room) made = room;
            for (k = 0; k < made; k++, total++) {
                int64_t *d = log + 9 * total;
                d[0] = dec[k].sample; d[1] = dec[k].tensor; d[2] = dec[k].action;
                d[3] = dec[k].bits_before; d[4] = dec[k].bits_after;
                d[5] = dec[k].exp_before; d[6] = dec[k].exp_after;
                d[7] = dec[k].gavg_q16; d[8] = dec[k].saturated;
            }
            states[3 * adv] = c.samples;
            states[3 * adv + 1] = r.key;
            states[3 * adv + 2] = r.counter;
            adv++;
        }
    }
    out_arr[log_arr].count = (uint32_t)(9 * total);
    for (i = 0; i < nt; i++) {
        tensor_out(&t[i]);
        out_int(t[i].exp);
        out_int(t[i].bits);
    }
    out_int(r.counter);
    out_int(c.samples);
}

/* The inline helpers of rct.h, element-wise: ints which, p; arrays v (i64) [, c (i64)].
 * which: 1 rct_shl_sat64(v, p), 2 rct_sat64(v, p), 3 rct_div_round64(v, c), 4 rct_relu6_upper(v),
 * 5 rct_asr64(v, p), 6 rct_err_shift(v), 7 rct_err_mag(v). */
static void helpers(void)
{
    const int64_t *v = (const int64_t *)A(0), *c = (const int64_t *)A(1);
    const int32_t n = N(0), p = I(1);
    int64_t *o;
    int32_t i;
    if (I(0) == 3 && N(1) != n) {
        failed = ST_BAD;
        return;
    }
    o = (int64_t *)out_array(T_I64, n);
    if (o == NULL) return;
    for (i = 0; i < n; i++) {
        switch (I(0)) {
        case 1: o[i] = rct_shl_sat64(v[i], p); break;
        case 2: o[i] = rct_sat64(v[i], p); break;
        case 3: o[i] = rct_div_round64(v[i], c[i]); break;
        case 4: o[i] = rct_relu6_upper((int32_t)v[i]); break;
        case 5: o[i] = rct_asr64(v[i], p); break;
        case 6: o[i] = rct_err_shift(v[i]); break;
        case 7: o[i] = rct_err_mag(v[i]); break;
        default: failed = ST_BAD; return;
        }
    }
}

static void dispatch(uint32_t op)
{
    rct_prng_t r;
    rct_tensor_t t;
    rct_conv_shape_t s;
    int32_t i;
    switch (op) {
    case 1: { /* prng: key, counter, n -> u32[n] */
        uint32_t *o = (uint32_t *)out_array(T_U32, I(2));
        prng_in(&r, 0);
        for (i = 0; o != NULL && i < I(2); i++) o[i] = rct_prng_next(&r);
        out_int(r.counter);
        break;
    }
    case 2: { /* round_nearest64: s; v i64 -> i64 */
        int64_t *o = (int64_t *)out_array(T_I64, N(0));
        for (i = 0; o != NULL && i < N(0); i++) o[i] = rct_round_nearest64(((int64_t *)A(0))[i], I(0));
        break;
    }
    case 3: { /* round_stochastic_block: s, key, counter; v i64 -> i64 */
        int64_t *o = (int64_t *)out_array(T_I64, N(0));
        prng_in(&r, 1);
        if (o != NULL) {
            memcpy(o, A(0), (size_t)N(0) * 8u);
            rct_round_stochastic_block(o, N(0), I(0), &r);
        }
        out_int(r.counter);
        break;
    }
    case 4: /* gavg: abs_sum, size, sh */
        out_int(rct_gavg_q16(in_ints[0], I(1), I(2)));
        break;
    case 5: { /* dense_forward */
        int8_t *y = (int8_t *)out_array(T_I8, I(7) * I(9));
        if (y == NULL) break;
        rct_dense_forward((const int8_t *)A(0), I(0), weights(1, I(1)), I(1), I(2),
                          I(3) ? weights(2, I(4)) : NULL, I(4), I(5), y, I(6), I(7), I(8), I(9),
                          (rct_act_t)I(10), (rct_acc_t)I(11));
        break;
    }
    case 6: { /* dense_backward_input */
        int16_t *dx = (int16_t *)out_array(T_I16, I(3) * I(4));
        if (dx == NULL) break;
        out_int(rct_dense_backward_input((const int16_t *)A(0), I(0), weights(1, I(1)), I(1), I(2),
                                         dx, I(3), I(4), I(5)));
        break;
    }
    case 7: { /* dense_backward_weight: g in/out */
        int32_t *g = (int32_t *)out_array(T_I32, N(2));
        if (g == NULL) break;
        memcpy(g, A(2), (size_t)N(2) * 4u);
        rct_dense_backward_weight((const int8_t *)A(0), (const int16_t *)A(1), I(0), I(1), I(2), g);
        break;
    }
    case 8: { /* bias_backward */
        int32_t *g = (int32_t *)out_array(T_I32, N(1));
        if (g == NULL) break;
        memcpy(g, A(1), (size_t)N(1) * 4u);
        rct_bias_backward((const int16_t *)A(0), I(0), I(1), g);
        break;
    }
    case 9: /* update: exp, bits, g_exp, lr_shift, stochastic, key, counter; q, g */
        tensor_in(&t, 0, I(0), I(1));
        prng_in(&r, 5);
        out_int(rct_update(&t, (const int32_t *)A(1), I(2), I(3), I(4), &r));
        out_int(r.counter);
        tensor_out(&t);
        break;
    case 10: /* dense_backward_update: exp, bits, x_exp, dz_exp, n, in, out, lr, sto, key, ctr */
        tensor_in(&t, 0, I(0), I(1));
        prng_in(&r, 9);
        out_int(rct_dense_backward_update(&t, (const int8_t *)A(1), I(2), (const int16_t *)A(2),
                                          I(3), I(4), I(5), I(6), I(7), I(8), &r));
        out_int(r.counter);
        tensor_out(&t);
        break;
    case 11: /* bias_backward_update: exp, bits, dz_exp, rows, channels, lr, sto, key, ctr */
        tensor_in(&t, 0, I(0), I(1));
        prng_in(&r, 7);
        out_int(rct_bias_backward_update(&t, (const int16_t *)A(1), I(2), I(3), I(4), I(5), I(6),
                                         &r));
        out_int(r.counter);
        tensor_out(&t);
        break;
    case 12: case 16: { /* conv/depthwise forward: x_exp, w_bits, w_exp, has_b, b_bits, b_exp,
                         * y_exp, act, acc, shape@9 */
        int8_t *y;
        shape_in(&s, 9);
        y = (int8_t *)out_array(T_I8, out_size(&s));
        if (y == NULL) break;
        if (op == 12)
            rct_conv2d_forward((const int8_t *)A(0), I(0), weights(1, I(1)), I(1), I(2),
                               I(3) ? weights(2, I(4)) : NULL, I(4), I(5), y, I(6), &s,
                               (rct_act_t)I(7), (rct_acc_t)I(8));
        else
            rct_depthwise_conv2d_forward((const int8_t *)A(0), I(0), weights(1, I(1)), I(1), I(2),
                                         I(3) ? weights(2, I(4)) : NULL, I(4), I(5), y, I(6), &s,
                                         (rct_act_t)I(7), (rct_acc_t)I(8));
        break;
    }
    case 13: case 17: { /* backward_input: dz_exp, w_bits, w_exp, shape@3 */
        int16_t *dx;
        int32_t nx;
        shape_in(&s, 3);
        nx = in_size(&s);
        /* room for the kernel's sign bitmap after dx (rct_err_stream), garbage-filled */
        dx = (int16_t *)out_array(T_I16, nx + RCT_ERR_STREAM_EXTRA(nx));
        if (dx == NULL) break;
        out_arr[n_out_arrays - 1].count = (uint32_t)nx;
        memset(dx, 0xA5, (size_t)(nx + RCT_ERR_STREAM_EXTRA(nx)) * 2u);
        if (op == 13)
            out_int(rct_conv2d_backward_input((const int16_t *)A(0), I(0), weights(1, I(1)), I(1),
                                              I(2), dx, &s));
        else
            out_int(rct_depthwise_conv2d_backward_input((const int16_t *)A(0), I(0),
                                                        weights(1, I(1)), I(1), I(2), dx, &s));
        break;
    }
    case 14: case 18: { /* backward_weight: shape@0; x, dz, g */
        int32_t *g = (int32_t *)out_array(T_I32, N(2));
        if (g == NULL) break;
        shape_in(&s, 0);
        memcpy(g, A(2), (size_t)N(2) * 4u);
        if (op == 14) rct_conv2d_backward_weight((const int8_t *)A(0), (const int16_t *)A(1), &s, g);
        else rct_depthwise_conv2d_backward_weight((const int8_t *)A(0), (const int16_t *)A(1), &s, g);
        break;
    }
    case 15: case 19: /* backward_update: exp, bits, x_exp, dz_exp, lr, sto, key, ctr, shape@8 */
        shape_in(&s, 8);
        tensor_in(&t, 0, I(0), I(1));
        prng_in(&r, 6);
        if (op == 15)
            out_int(rct_conv2d_backward_update(&t, (const int8_t *)A(1), I(2), (const int16_t *)A(2),
                                               I(3), &s, I(4), I(5), &r));
        else
            out_int(rct_depthwise_conv2d_backward_update(&t, (const int8_t *)A(1), I(2),
                                                         (const int16_t *)A(2), I(3), &s, I(4),
                                                         I(5), &r));
        out_int(r.counter);
        tensor_out(&t);
        break;
    case 20: { /* relu_forward: upper; x */
        int8_t *y = (int8_t *)out_array(T_I8, N(0));
        if (y != NULL) rct_relu_forward((const int8_t *)A(0), y, N(0), I(0));
        break;
    }
    case 21: { /* relu_backward: upper; y, dy */
        int16_t *dy = (int16_t *)out_array(T_I16, N(1));
        if (dy == NULL) break;
        memcpy(dy, A(1), (size_t)N(1) * 2u);
        rct_relu_backward((const int8_t *)A(0), dy, N(1), I(0));
        break;
    }
    case 22: case 24: { /* max/avg pool forward: shape@0 [, maxpool: arg NULL]; x */
        int8_t *y;
        shape_in(&s, 0);
        y = (int8_t *)out_array(T_I8, out_size(&s));
        if (y == NULL) break;
        if (op == 22) { /* out: y, then the window argmax unpacked (u8) */
            const int32_t no = out_size(&s), taps = s.k_h * s.k_w;
            const int32_t bytes = RCT_ARGMAX_BYTES(no, taps), bits = RCT_ARGMAX_BITS(taps);
            uint8_t *out = (uint8_t *)out_array(T_U8, no);
            uint8_t *packed = (uint8_t *)palloc((uint32_t)bytes + 8u);
            int32_t i;
            if (out == NULL || packed == NULL) break;
            memset(packed, 0xEE, (size_t)bytes + 8u); /* garbage, and a canary after the end */
            /* int 14 set: arg = NULL (inference) */
            rct_maxpool2d_forward((const int8_t *)A(0), y, I(14) ? NULL : packed, &s);
            for (i = 0; i < 8; i++)
                if (packed[bytes + i] != 0xEE) failed = ST_BAD; /* wrote past RCT_ARGMAX_BYTES */
            for (i = 0; i < no; i++)
                out[i] = (uint8_t)((packed[i * bits / 8] >> (i * bits % 8)) & ((1 << bits) - 1));
        } else {
            rct_avgpool2d_forward((const int8_t *)A(0), y, &s);
        }
        break;
    }
    case 23: { /* maxpool backward: dy_exp, shape@1, upper@15; arg (u8), dy [, y (i8)] */
        int16_t *dx;
        shape_in(&s, 1);
        dx = (int16_t *)out_array(T_I16, in_size(&s));
        if (dx == NULL) break;
        memset(dx, 0xA5, (size_t)in_size(&s) * 2u); /* the kernel writes every element */
        {   /* the argmax arrives unpacked: pack it as rct_maxpool2d_forward stores it */
            const int32_t no = N(0), bits = RCT_ARGMAX_BITS(s.k_h * s.k_w);
            uint8_t *packed = (uint8_t *)palloc((uint32_t)RCT_ARGMAX_BYTES(no, s.k_h * s.k_w));
            int32_t i;
            if (packed == NULL) break;
            for (i = 0; i < no; i++)
                packed[i * bits / 8] = (uint8_t)(packed[i * bits / 8] |
                                                 ((((const uint8_t *)A(0))[i] & ((1 << bits) - 1))
                                                  << (i * bits % 8)));
            out_int(rct_maxpool2d_backward(packed, n_in_arrays > 2 ? (const int8_t *)A(2) : NULL,
                                           I(15), (const int16_t *)A(1), I(0), dx, &s));
        }
        break;
    }
    case 25: { /* avgpool backward: dy_exp, shape@1; dy */
        int16_t *dx;
        shape_in(&s, 1);
        dx = (int16_t *)out_array(T_I16, in_size(&s));
        if (dx != NULL) out_int(rct_avgpool2d_backward((const int16_t *)A(0), I(0), dx, &s));
        break;
    }
    case 26: { /* requantize: from, to; x */
        int8_t *y = (int8_t *)out_array(T_I8, N(0));
        if (y != NULL) rct_requantize_i8((const int8_t *)A(0), y, N(0), I(0), I(1));
        break;
    }
    case 27: { /* softmax_ce: z_exp, n, classes; z, labels */
        int16_t *dz = (int16_t *)out_array(T_I16, I(1) * I(2));
        int32_t loss = 0;
        if (dz == NULL) break;
        out_int(rct_softmax_ce((const int8_t *)A(0), I(0), (const uint16_t *)A(1), dz, I(1), I(2),
                               &loss));
        out_int(loss);
        break;
    }
    case 28: /* bit change: which (1 add_low, 2 drop_low, 3 add_high), exp, bits, key, ctr; q */
        tensor_in(&t, 0, I(1), I(2));
        prng_in(&r, 3);
        if (I(0) == 1) rct_add_low_bit(&t);
        else if (I(0) == 2) rct_drop_low_bit(&t, &r);
        else rct_add_high_bit(&t);
        out_int(t.exp);
        out_int(t.bits);
        out_int(r.counter);
        out_int(rct_saturated_count(&t));
        tensor_out(&t);
        break;
    case 29:
        run_controller();
        break;
    case 30: /* argmax_i8; z */
        out_int(rct_argmax_i8((const int8_t *)A(0), N(0)));
        break;
    case 31:
        helpers();
        break;
    case 40: { /* rct_err_stream over v (i64): out dx (i16), shift */
        const int32_t nv = N(0);
        rct_err_stream_t es;
        int16_t *dx = (int16_t *)out_array(T_I16, nv + RCT_ERR_STREAM_EXTRA(nv));
        int32_t i;
        if (dx == NULL) break;
        out_arr[n_out_arrays - 1].count = (uint32_t)nv;
        memset(dx, 0x5A, (size_t)(nv + RCT_ERR_STREAM_EXTRA(nv)) * 2u);
        rct_err_stream_begin(&es, dx, nv);
        for (i = 0; i < nv; i++) rct_err_stream_put(&es, ((const int64_t *)A(0))[i]);
        out_int(rct_err_stream_finish(&es));
        break;
    }
    case 80: { /* mse_loss: y_exp, t_exp, n, m, want_scores; y, t -> dy (i16), scores (i32);
                  ints dy_exp, loss */
        const int32_t total = I(2) * I(3);
        int16_t *dy = (int16_t *)out_array(T_I16, total);
        int32_t *scores = (int32_t *)out_array(T_I32, I(2));
        int32_t loss = 0x7EADBEEF;
        if (dy == NULL || scores == NULL || N(0) != total || N(1) != total) {
            failed = ST_BAD;
            break;
        }
        out_int(rct_mse_loss((const int8_t *)A(0), I(0), (const int8_t *)A(1), I(1), dy, I(2),
                             I(3), &loss, I(4) ? scores : NULL));
        out_int(loss);
        break;
    }
    case 81: { /* add_forward: a_exp, b_exp, y_exp, in_place; a, b -> y (i8) */
        int8_t *y = (int8_t *)out_array(T_I8, N(0));
        if (y == NULL || N(1) != N(0)) {
            failed = ST_BAD;
            break;
        }
        if (I(3)) { /* y aliases a */
            memcpy(y, A(0), (size_t)N(0));
            rct_add_forward(y, I(0), (const int8_t *)A(1), I(1), y, I(2), N(0));
        } else {
            rct_add_forward((const int8_t *)A(0), I(0), (const int8_t *)A(1), I(1), y, I(2), N(0));
        }
        break;
    }
    case 82: { /* err_add: da_exp, db_exp, in_place; da, db -> dx (i16); int dx_exp */
        int16_t *dx = (int16_t *)out_array(T_I16, N(0));
        if (dx == NULL || N(1) != N(0)) {
            failed = ST_BAD;
            break;
        }
        if (I(2)) { /* dx aliases da */
            memcpy(dx, A(0), (size_t)N(0) * 2u);
            out_int(rct_err_add(dx, I(0), (const int16_t *)A(1), I(1), dx, N(0)));
        } else {
            out_int(rct_err_add((const int16_t *)A(0), I(0), (const int16_t *)A(1), I(1), dx, N(0)));
        }
        break;
    }
    case 83: case 84: { /* pad2d forward (x i8) / backward (dy i16): n, h, w, c, t, b, l, r */
        const int32_t n = I(0), h = I(1), w = I(2), c = I(3);
        const int32_t oh = h + I(4) + I(5), ow = w + I(6) + I(7);
        if (op == 83) {
            int8_t *y = (int8_t *)out_array(T_I8, n * oh * ow * c);
            if (y == NULL || N(0) != n * h * w * c) {
                failed = ST_BAD;
                break;
            }
            rct_pad2d_forward((const int8_t *)A(0), y, n, h, w, c, I(4), I(5), I(6), I(7), 0);
        } else {
            int16_t *dx = (int16_t *)out_array(T_I16, n * h * w * c);
            if (dx == NULL || N(0) != n * oh * ow * c) {
                failed = ST_BAD;
                break;
            }
            rct_pad2d_backward((const int16_t *)A(0), dx, n, h, w, c, I(4), I(5), I(6), I(7));
        }
        break;
    }
    /* -- TFLite arithmetic (rct_tfl.h); conv ints: shape@0 (14), dil_h, dil_w, zp_in, zp_out,
     *    act_min, act_max, has_bias; arrays x (i8), w (i8), bias (i32), qm (i32), shift (i32) */
    case 90: case 91: {
        rct_tfl_conv_t p;
        int8_t *y;
        shape_in(&p.s, 0);
        p.dil_h = I(14); p.dil_w = I(15); p.zp_in = I(16); p.zp_out = I(17);
        p.act_min = I(18); p.act_max = I(19);
        y = (int8_t *)out_array(T_I8, out_size(&p.s));
        if (y == NULL || N(0) != in_size(&p.s)) {
            failed = ST_BAD;
            break;
        }
        if (op == 90)
            rct_tfl_conv2d((const int8_t *)A(0), (const int8_t *)A(1),
                           I(20) ? (const int32_t *)A(2) : NULL, (const int32_t *)A(3),
                           (const int32_t *)A(4), y, &p);
        else
            rct_tfl_depthwise_conv2d((const int8_t *)A(0), (const int8_t *)A(1),
                                     I(20) ? (const int32_t *)A(2) : NULL,
                                     (const int32_t *)A(3), (const int32_t *)A(4), y, &p);
        break;
    }
    case 92: { /* fully_connected: n, in, out, zp_in, zp_out, act_min, act_max, has_bias,
                  per_channel; x, w, bias, qm, shift */
        int8_t *y = (int8_t *)out_array(T_I8, I(0) * I(2));
        if (y == NULL || N(0) != I(0) * I(1) || N(1) != I(1) * I(2)) {
            failed = ST_BAD;
            break;
        }
        rct_tfl_fully_connected((const int8_t *)A(0), (const int8_t *)A(1),
                                I(7) ? (const int32_t *)A(2) : NULL, (const int32_t *)A(3),
                                (const int32_t *)A(4), I(8), y, I(0), I(1), I(2), I(3), I(4),
                                I(5), I(6));
        break;
    }
    case 93: { /* add: zp_a, qm_a, shift_a, zp_b, qm_b, shift_b, qm_out, shift_out, zp_out,
                  act_min, act_max, in_place; a, b */
        rct_tfl_add_t p;
        int8_t *y = (int8_t *)out_array(T_I8, N(0));
        if (y == NULL || N(1) != N(0)) {
            failed = ST_BAD;
            break;
        }
        p.zp_a = I(0); p.qm_a = I(1); p.shift_a = I(2); p.zp_b = I(3); p.qm_b = I(4);
        p.shift_b = I(5); p.qm_out = I(6); p.shift_out = I(7); p.zp_out = I(8);
        p.act_min = I(9); p.act_max = I(10);
        if (I(11)) { /* y aliases a */
            memcpy(y, A(0), (size_t)N(0));
            rct_tfl_add(y, (const int8_t *)A(1), y, N(0), &p);
        } else {
            rct_tfl_add((const int8_t *)A(0), (const int8_t *)A(1), y, N(0), &p);
        }
        break;
    }
    case 94: case 95: { /* avg/max pool: n, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h,
                           stride_w, pad_top, pad_left, act_min, act_max; x */
        rct_tfl_pool_t p;
        int8_t *y;
        p.n = I(0); p.in_h = I(1); p.in_w = I(2); p.c = I(3); p.out_h = I(4); p.out_w = I(5);
        p.k_h = I(6); p.k_w = I(7); p.stride_h = I(8); p.stride_w = I(9); p.pad_top = I(10);
        p.pad_left = I(11); p.act_min = I(12); p.act_max = I(13);
        y = (int8_t *)out_array(T_I8, p.n * p.out_h * p.out_w * p.c);
        if (y == NULL || N(0) != p.n * p.in_h * p.in_w * p.c) {
            failed = ST_BAD;
            break;
        }
        if (op == 94) rct_tfl_avgpool2d((const int8_t *)A(0), y, &p);
        else rct_tfl_maxpool2d((const int8_t *)A(0), y, &p);
        break;
    }
    case 96: { /* mean_hw: n, h, w, c, zp_in, qm, shift, zp_out; x */
        int8_t *y = (int8_t *)out_array(T_I8, I(0) * I(3));
        if (y == NULL || N(0) != I(0) * I(1) * I(2) * I(3)) {
            failed = ST_BAD;
            break;
        }
        rct_tfl_mean_hw((const int8_t *)A(0), y, I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7));
        break;
    }
    case 97: { /* TFLite PAD (rct_pad2d_forward with a fill): n, h, w, c, t, b, l, r, value; x */
        const int32_t oh = I(1) + I(4) + I(5), ow = I(2) + I(6) + I(7);
        int8_t *y = (int8_t *)out_array(T_I8, I(0) * oh * ow * I(3));
        if (y == NULL || N(0) != I(0) * I(1) * I(2) * I(3)) {
            failed = ST_BAD;
            break;
        }
        rct_pad2d_forward((const int8_t *)A(0), y, I(0), I(1), I(2), I(3), I(4), I(5), I(6),
                          I(7), I(8));
        break;
    }
    case 98: { /* requantize: zp_in, qm, shift, zp_out; x */
        int8_t *y = (int8_t *)out_array(T_I8, N(0));
        if (y == NULL) break;
        rct_tfl_requantize((const int8_t *)A(0), y, N(0), I(0), I(1), I(2), I(3));
        break;
    }
    case 99: { /* mbqm: qm, shift; x (i32) -> i32 */
        int32_t *y = (int32_t *)out_array(T_I32, N(0));
        int32_t i;
        if (y == NULL) break;
        for (i = 0; i < N(0); i++) y[i] = rct_tfl_mbqm(((const int32_t *)A(0))[i], I(0), I(1));
        break;
    }
    default:
        failed = ST_BAD;
    }
}

static int known_type(uint32_t t)
{
    return t == T_I8 || t == T_I16 || t == T_I32 || t == T_I64 || t == T_U8 || t == T_U32;
}

/* Reads and throws away n bytes (an array that did not fit the pool). */
static int skip_bytes(uint32_t n)
{
    uint8_t scratch[64];
    while (n > 0u) {
        const uint32_t k = n < sizeof scratch ? n : (uint32_t)sizeof scratch;
        if (harness_io_read(scratch, k) != 0) return -1;
        n -= k;
    }
    return 0;
}

/* -1: stream broken (EOF, bad magic or header), 0: request read (failed may say it is unusable). */
static int read_request(uint32_t *op)
{
    uint32_t hdr[3], k;
    if (harness_io_read(hdr, sizeof hdr) != 0 || hdr[0] != MAGIC_REQ || hdr[2] > MAX_INTS) return -1;
    *op = hdr[1];
    n_in_ints = hdr[2];
    if (harness_io_read(in_ints, 8u * n_in_ints) != 0) return -1;
    if (harness_io_read(&n_in_arrays, 4u) != 0 || n_in_arrays > MAX_ARRAYS) return -1;
    for (k = 0; k < n_in_arrays; k++) {
        uint32_t th[2];
        uint64_t bytes;
        if (harness_io_read(th, sizeof th) != 0 || !known_type(th[0])) return -1;
        in_arr[k].type = th[0];
        in_arr[k].count = th[1];
        bytes = (uint64_t)th[1] * elem_size(th[0]);
        if (bytes > 0xFFFFFFF0u) return -1;
        in_arr[k].data = palloc((uint32_t)bytes + 8u);
        if (in_arr[k].data == NULL) {
            if (skip_bytes((uint32_t)bytes) != 0) return -1;
        } else if (harness_io_read(in_arr[k].data, (uint32_t)bytes) != 0) {
            return -1;
        }
    }
    return 0;
}

static void write_response(void)
{
    uint32_t hdr[3], k;
    hdr[0] = MAGIC_RSP;
    hdr[1] = (uint32_t)failed;
    hdr[2] = n_out_ints;
    harness_io_write(hdr, sizeof hdr);
    harness_io_write(out_ints, 8u * n_out_ints);
    harness_io_write(&n_out_arrays, 4u);
    for (k = 0; k < n_out_arrays; k++) {
        uint32_t th[2];
        th[0] = out_arr[k].type;
        th[1] = out_arr[k].count;
        harness_io_write(th, sizeof th);
        harness_io_write(out_arr[k].data, th[1] * elem_size(th[0]));
    }
    harness_io_flush();
}

int main(void)
{
    uint32_t op;
    uint32_t ready[5];
    harness_io_init();
    ready[0] = MAGIC_READY;
    ready[1] = PROTO_VERSION;
    ready[2] = HARNESS_POOL_BYTES;
    ready[3] = (uint32_t)sizeof(long);
    ready[4] = (uint32_t)sizeof(void *);
    harness_io_write(ready, sizeof ready);
    harness_io_flush();
    for (;;) {
        pool_used = 0u;
        n_out_ints = n_out_arrays = 0u;
        failed = 0;
        if (read_request(&op) != 0) return 0;
        if (failed == 0) {
            in_dispatch = 1;
            if (setjmp(pool_out) == 0) dispatch(op);
            in_dispatch = 0;
        }
        if (failed != 0) n_out_ints = n_out_arrays = 0u; /* partial results are not results */
        write_response();
    }
}
