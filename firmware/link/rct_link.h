/* The C side of the rct_tflm serial protocol (docs/protocol.md, version RCT_PROTO_VERSION).
 *
 * Frame on the wire:  COBS( type u8 | seq u8 | payload ... | crc16 LE ) 0x00
 * crc16 is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type, seq and payload.
 */
#ifndef RCT_LINK_H
#define RCT_LINK_H

#include <stddef.h>
#include <stdint.h>

#define RCT_PROTO_VERSION 5u /* 3: session nonce (HELLO, TRAIN, STATS), DIGEST; 4: staged samples;
                                 5: uint16 labels, MSE targets, i32 INFER results, HELLO loss */

#ifndef RCT_LINK_MAX_PAYLOAD
#define RCT_LINK_MAX_PAYLOAD 512u /* request/response payload bytes; reported in HELLO */
#endif
#define RCT_LINK_MAX_RAW (RCT_LINK_MAX_PAYLOAD + 4u)                /* + type, seq, crc */
#define RCT_LINK_MAX_WIRE (RCT_LINK_MAX_RAW + RCT_LINK_MAX_RAW / 254u + 2u) /* + COBS + 0x00 */

/* Message types: requests from the host, responses from the device. */
enum {
    RCT_MSG_HELLO = 0x01,
    RCT_MSG_TRAIN = 0x02,
    RCT_MSG_INFER = 0x03,
    RCT_MSG_STATS = 0x04,
    RCT_MSG_WEIGHTS_READ = 0x05,
    RCT_MSG_WEIGHTS_WRITE = 0x06,
    RCT_MSG_SET_HPARAMS = 0x07,
    RCT_MSG_RESET = 0x08,
    RCT_MSG_HPARAMS_GET = 0x09,
    RCT_MSG_DIGEST = 0x0A, /* session, samples and CRC-32 of the weights the board holds */
    RCT_MSG_SAMPLE_WRITE = 0x0B, /* a chunk of large samples into the staging buffer */
    RCT_MSG_TRAIN_STAGED = 0x0C, /* train on the staged samples (labels in the request) */
    RCT_MSG_INFER_STAGED = 0x0D, /* infer the staged samples */
    RCT_MSG_FAULT_TEST = 0x7E, /* only with RCT_TEST_HOOKS: provoke a fault */
    RCT_MSG_ACK = 0x80,
    RCT_MSG_NAK = 0x81,
    RCT_MSG_FAULT = 0x82 /* unsolicited: the device crashed, payload = fault registers */
};

/* NAK reasons (first payload byte of a NAK; a short ASCII text follows). */
enum {
    RCT_NAK_CRC = 1,        /* frame failed its CRC or COBS check: retransmit */
    RCT_NAK_TOO_LONG = 2,   /* frame longer than RCT_LINK_MAX_PAYLOAD */
    RCT_NAK_UNKNOWN = 3,    /* unknown message type */
    RCT_NAK_BAD_LENGTH = 4, /* payload length does not match the message */
    RCT_NAK_BAD_ARG = 5,    /* an argument out of range (offset, count, label) */
    RCT_NAK_MODEL = 6       /* the model returned an error code */
};

uint16_t rct_crc16(const uint8_t *p, size_t n);
/* CRC-32/IEEE (zlib.crc32) of p[0..n), continuing from `crc` (0 to start): the weights digest. */
uint32_t rct_crc32(uint32_t crc, const uint8_t *p, size_t n);
size_t rct_cobs_encode(const uint8_t *in, size_t n, uint8_t *out);
/* Decodes in place-safe (out may equal in); returns decoded length or (size_t)-1 if malformed. */
size_t rct_cobs_decode(const uint8_t *in, size_t n, uint8_t *out);

/* Board byte I/O the link is built on (firmware/boards/<board>/board.c). */
void rct_board_init(void);
void rct_board_write(const uint8_t *p, size_t n);
int rct_board_getc(void); /* blocking; -1 = end of input (host build only) */
extern const char rct_board_name[];

/* Sends one frame: type, seq, payload (n <= RCT_LINK_MAX_PAYLOAD). */
void rct_link_send(uint8_t type, uint8_t seq, const uint8_t *payload, size_t n);

/* Receiver: feed bytes; returns 1 when a complete valid frame is in *frame. */
typedef struct {
    uint8_t buf[RCT_LINK_MAX_WIRE];
    size_t len;
    uint8_t overflow;
    uint32_t crc_errors, overflows;
} rct_link_rx_t;

typedef struct {
    uint8_t type, seq;
    const uint8_t *payload;
    size_t n;
} rct_frame_t;

/* 0 = need more bytes, 1 = frame ready, -1 = bad frame (CRC/COBS), -2 = frame too long. */
int rct_link_rx_feed(rct_link_rx_t *rx, uint8_t byte, rct_frame_t *frame);

#endif
