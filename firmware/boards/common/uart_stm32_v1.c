/* STM32F4 USART (SR/DR layout), polled. */
#include "rct_board_regs.h"
#include "rct_link.h"

#ifndef RCT_UART_POLL_PAUSE
#define RCT_UART_POLL_PAUSE 16u
#endif

#define SR 0x00u
#define DR 0x04u
#define BRR 0x08u
#define CR1 0x0Cu
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define SR_ORE (1u << 3)

static uint32_t uart;

void rct_uart_stm32_v1_init(uint32_t base, uint32_t brr)
{
    uart = base;
    RCT_REG(uart + CR1) = 0;
    RCT_REG(uart + BRR) = brr;
    RCT_REG(uart + CR1) = (1u << 13) | (1u << 3) | (1u << 2); /* UE, TE, RE */
}

void rct_board_write(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(RCT_REG(uart + SR) & SR_TXE)) {
        }
        RCT_REG(uart + DR) = p[i];
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
    uint32_t sr;
    while (!((sr = RCT_REG(uart + SR)) & (SR_RXNE | SR_ORE)))
        poll_pause();
    /* Reading DR clears RXNE and, after the SR read, an overrun; the lost byte shows up as a
     * CRC error and the host retransmits. */
    return (int)(RCT_REG(uart + DR) & 0xFFu);
}
