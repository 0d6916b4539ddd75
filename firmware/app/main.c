/* Firmware entry: the same main on every board and in the host build. */
#include "rct_app.h"
#include "rct_model.h"

#ifndef RCT_BOOT_SEED
#define RCT_BOOT_SEED 0u /* the host sends RESET with its own seed before training */
#endif

uint32_t rct_app_rx_errors;

static rct_link_rx_t rx;

int main(void)
{
    rct_board_init();
    (void)rct_model_init(RCT_BOOT_SEED);
    rct_app_reset_session();
    for (;;) {
        int c = rct_board_getc();
        if (c < 0)
            return 0; /* host build: stdin closed */
        rct_frame_t f;
        int r = rct_link_rx_feed(&rx, (uint8_t)c, &f);
        if (r == 1) {
            rct_app_dispatch(&f);
        } else if (r == -1) {
            static const uint8_t nak[] = {RCT_NAK_CRC, 'c', 'r', 'c'};
            rct_app_rx_errors++;
            rct_link_send(RCT_MSG_NAK, 0xFF, nak, sizeof nak);
        } else if (r == -2) {
            static const uint8_t nak[] = {RCT_NAK_TOO_LONG, 't', 'o', 'o', ' ', 'l', 'o', 'n', 'g'};
            rct_app_rx_errors++;
            rct_link_send(RCT_MSG_NAK, 0xFF, nak, sizeof nak);
        }
    }
}
