/* ARM CMSDK APB UART (MPS2 FPGA images AN386/AN500), polled. */
#include "rct_board_regs.h"
#include "rct_link.h"

#ifndef RCT_UART_POLL_PAUSE
#define RCT_UART_POLL_PAUSE 16u
#endif

#define DATA 0x00u
#define STATE 0x04u
#define CTRL 0x08u
#define BAUDDIV 0x10u
#define STATE_TXFULL (1u << 0)
#define STATE_RXFULL (1u << 1)

static uint32_t uart;

void rct_uart_cmsdk_init(uint32_t base, uint32_t bauddiv)
{
    uart = base;
    RCT_REG(uart + BAUDDIV) = bauddiv; /* must be >= 16 */
    RCT_REG(uart + CTRL) = 0x3u;       /* TX and RX enable */
}

void rct_board_write(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (RCT_REG(uart + STATE) & STATE_TXFULL) {
        }
        RCT_REG(uart + DATA) = p[i];
    }
}

/* Between status polls: on QEMU every register read takes the emulator's global lock, and a
 * tight poll starves the thread that delivers the next byte; on hardware a byte takes ~1400
 * cycles at 115200 baud, so the pause costs nothing. */
static void poll_pause(void)
{
    for (volatile uint32_t i = 0; i < RCT_UART_POLL_PAUSE; i++) {
    }
}

int rct_board_getc(void)
{
    while (!(RCT_REG(uart + STATE) & STATE_RXFULL))
        poll_pause();
    return (int)(RCT_REG(uart + DATA) & 0xFFu);
}
