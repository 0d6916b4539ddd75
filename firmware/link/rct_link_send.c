#include "rct_link.h"

static uint8_t raw[RCT_LINK_MAX_RAW];
static uint8_t wire[RCT_LINK_MAX_WIRE];

void rct_link_send(uint8_t type, uint8_t seq, const uint8_t *payload, size_t n)
{
    if (n > RCT_LINK_MAX_PAYLOAD)
        n = RCT_LINK_MAX_PAYLOAD;
    raw[0] = type;
    raw[1] = seq;
    for (size_t i = 0; i < n; i++)
        raw[2 + i] = payload[i];
    uint16_t crc = rct_crc16(raw, n + 2);
    raw[n + 2] = (uint8_t)(crc & 0xFFu);
    raw[n + 3] = (uint8_t)(crc >> 8);
    size_t w = rct_cobs_encode(raw, n + 4, wire);
    wire[w++] = 0;
    rct_board_write(wire, w);
}
