/* STM32F7/L4 USART (ISR/TDR/RDR layout), polled. */
#include "rct_board_regs.h"
#include "rct_link.h"

#ifndef RCT_UART_POLL_PAUSE
#define RCT_UART_POLL_PAUSE 16u
#endif

#define CR1 0x00u
#define BRR 0x0Cu
#define ISR 0x1Cu
#define ICR 0x20u
#define RDR 0x24u
#define TDR 0x28u
#define ISR_RXNE (1u << 5)
#define ISR_TXE (1u << 7)
#define ISR_ORE (1u << 3)

static uint32_t uart;

void rct_uart_stm32_v2_init(uint32_t base, uint32_t brr)
{
    uart = base;
    RCT_REG(uart + CR1) = 0;
    RCT_REG(uart + BRR) = brr;
    RCT_REG(uart + CR1) = (1u << 3) | (1u << 2) | (1u << 0); /* TE, RE, UE */
}

void rct_board_write(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(RCT_REG(uart + ISR) & ISR_TXE)) {
        }
        RCT_REG(uart + TDR) = p[i];
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
    for (;;) {
        uint32_t isr = RCT_REG(uart + ISR);
        if (isr & ISR_ORE)
            RCT_REG(uart + ICR) = ISR_ORE; /* lost byte -> CRC error -> host retransmits */
        if (isr & ISR_RXNE)
            return (int)(RCT_REG(uart + RDR) & 0xFFu);
        poll_pause();
    }
}
