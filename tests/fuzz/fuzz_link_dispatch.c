/* libFuzzer harness: every byte string the wire can deliver goes through the firmware's frame
 * receiver (COBS, CRC-16, length limits) and the protocol dispatch on a generated model, built
 * with ASan and UBSan (tests/test_fuzz_link.py, docs/testing.md). The input is split at each
 * 0x00 exactly as the UART would deliver it, to a board booted afresh; answers go nowhere. RCT_TEST_HOOKS stays off: the
 * FAULT_TEST message would crash on purpose. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rct_app.h"
#include "rct_model.h"

const char rct_board_name[] = "fuzz";
uint32_t rct_app_rx_errors;

void rct_board_init(void) {}
void rct_board_write(const uint8_t *p, size_t n) { (void)p; (void)n; }
int rct_board_getc(void) { return -1; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rct_link_rx_t rx;
    /* every input starts from a freshly booted board, so a finding replays from its input */
    memset(&rx, 0, sizeof rx);
    (void)rct_model_init(0);
    rct_app_reset_session();
    for (size_t i = 0; i < size; i++) {
        rct_frame_t f;
        int r = rct_link_rx_feed(&rx, data[i], &f);
        if (r == 1)
            rct_app_dispatch(&f);
        else if (r < 0)
            rct_app_rx_errors++;
    }
    return 0;
}
