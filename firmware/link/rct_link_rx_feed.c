#include "rct_link.h"

int rct_link_rx_feed(rct_link_rx_t *rx, uint8_t byte, rct_frame_t *frame)
{
    if (byte != 0) {
        if (rx->len < sizeof rx->buf)
            rx->buf[rx->len++] = byte;
        else
            rx->overflow = 1; /* keep discarding until the delimiter */
        return 0;
    }
    size_t len = rx->len;
    rx->len = 0;
    if (rx->overflow) {
        rx->overflow = 0;
        rx->overflows++;
        return -2;
    }
    if (len == 0)
        return 0; /* back-to-back delimiters: a resync, not an error */
    size_t n = rct_cobs_decode(rx->buf, len, rx->buf);
    if (n == (size_t)-1 || n < 4 || rct_crc16(rx->buf, n - 2) !=
            (uint16_t)(rx->buf[n - 2] | (uint16_t)(rx->buf[n - 1] << 8))) {
        rx->crc_errors++;
        return -1;
    }
    if (n - 4 > RCT_LINK_MAX_PAYLOAD) {
        rx->overflows++;
        return -2;
    }
    frame->type = rx->buf[0];
    frame->seq = rx->buf[1];
    frame->payload = rx->buf + 2;
    frame->n = n - 4;
    return 1;
}
