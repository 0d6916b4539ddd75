/* Cortex-M I/O shim: the board port's UART (firmware/boards/common/uart_*.c, set up by
 * firmware/boards/<board>/board.c), the same byte I/O the firmware's link protocol uses. */
#include "harness_io.h"
#include "rct_link.h"

void harness_io_init(void)
{
    rct_board_init();
}

int harness_io_read(void *buf, uint32_t n)
{
    uint8_t *p = (uint8_t *)buf;
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int c = rct_board_getc();
        if (c < 0) return -1;
        p[i] = (uint8_t)c;
    }
    return 0;
}

int harness_io_write(const void *buf, uint32_t n)
{
    rct_board_write((const uint8_t *)buf, n);
    return 0;
}

void harness_io_flush(void)
{
}
