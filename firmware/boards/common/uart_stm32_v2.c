/* STM32F7/L4 USART (ISR/TDR/RDR layout): polled transmit, receive sleeps in WFI until RXNE. */
#include "rct_board_regs.h"
#include "rct_link.h"

#define CR1 0x00u
#define BRR 0x0Cu
#define ISR 0x1Cu
#define ICR 0x20u
#define RDR 0x24u
#define TDR 0x28u
#define ISR_ORE (1u << 3)
#define ISR_RXNE (1u << 5)
#define ISR_TXE (1u << 7)
#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)

static uint32_t uart, irq;

void rct_uart_stm32_v2_init(uint32_t base, uint32_t brr, uint32_t rx_irq)
{
    uart = base;
    irq = rx_irq;
    RCT_REG(uart + CR1) = 0;
    RCT_REG(uart + BRR) = brr;
    rct_rx_wake_init(irq);
    RCT_REG(uart + CR1) = CR1_TE | CR1_RE | CR1_RXNEIE | CR1_UE;
}

void rct_board_write(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(RCT_REG(uart + ISR) & ISR_TXE)) {
        }
        RCT_REG(uart + TDR) = p[i];
    }
}

int rct_board_getc(void)
{
    for (;;) {
        uint32_t isr = RCT_REG(uart + ISR);
        if (isr & ISR_ORE) /* a lost byte -> CRC error -> the host retransmits; ORE also */
            RCT_REG(uart + ICR) = ISR_ORE; /* holds the receive interrupt up: clear it */
        if (isr & ISR_RXNE) {
            int c = (int)(RCT_REG(uart + RDR) & 0xFFu);
            rct_rx_wake_clear(irq); /* the line is low again: the pending bit may go */
            return c;
        }
        if (!(isr & ISR_ORE))
            rct_wfi();
    }
}
