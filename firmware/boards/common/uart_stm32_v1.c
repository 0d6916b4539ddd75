/* STM32F4 USART (SR/DR layout): polled transmit, receive sleeps in WFI until RXNE. */
#include "rct_board_regs.h"
#include "rct_link.h"

#define SR 0x00u
#define DR 0x04u
#define BRR 0x08u
#define CR1 0x0Cu
#define SR_ORE (1u << 3)
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_UE (1u << 13)

static uint32_t uart, irq;

void rct_uart_stm32_v1_init(uint32_t base, uint32_t brr, uint32_t rx_irq)
{
    uart = base;
    irq = rx_irq;
    RCT_REG(uart + CR1) = 0;
    RCT_REG(uart + BRR) = brr;
    rct_rx_wake_init(irq);
    RCT_REG(uart + CR1) = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
}

void rct_board_write(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(RCT_REG(uart + SR) & SR_TXE)) {
        }
        RCT_REG(uart + DR) = p[i];
    }
}

int rct_board_getc(void)
{
    /* RXNEIE also raises the interrupt on an overrun, so ORE wakes us too. Reading DR after
     * SR clears RXNE and ORE; a byte lost to an overrun shows up as a CRC error and the host
     * retransmits. */
    while (!(RCT_REG(uart + SR) & (SR_RXNE | SR_ORE)))
        rct_wfi();
    int c = (int)(RCT_REG(uart + DR) & 0xFFu);
    rct_rx_wake_clear(irq);
    return c;
}
