/* ARM CMSDK APB UART (MPS2 FPGA images AN386/AN500): polled transmit, receive sleeps in WFI. */
#include "rct_board_regs.h"
#include "rct_link.h"

#define DATA 0x00u
#define STATE 0x04u
#define CTRL 0x08u
#define INTCLEAR 0x0Cu
#define BAUDDIV 0x10u
#define STATE_TXFULL (1u << 0)
#define STATE_RXFULL (1u << 1)
#define CTRL_TX_EN (1u << 0)
#define CTRL_RX_EN (1u << 1)
#define CTRL_RX_INT_EN (1u << 3)
#define INT_RX (1u << 1)

static uint32_t uart, irq;

void rct_uart_cmsdk_init(uint32_t base, uint32_t bauddiv, uint32_t rx_irq)
{
    uart = base;
    irq = rx_irq;
    RCT_REG(uart + BAUDDIV) = bauddiv; /* must be >= 16 */
    rct_rx_wake_init(irq);
    RCT_REG(uart + CTRL) = CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT_EN;
    /* A read of DATA (harmless when empty) makes QEMU poll its character back-end again:
     * bytes the host sent while RX was still disabled were refused, and enabling RX alone
     * does not tell QEMU; the WFI below would then wait for a byte that never comes. */
    (void)RCT_REG(uart + DATA);
    RCT_REG(uart + INTCLEAR) = INT_RX;
}

void rct_board_write(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (RCT_REG(uart + STATE) & STATE_TXFULL) {
        }
        RCT_REG(uart + DATA) = p[i];
    }
}

int rct_board_getc(void)
{
    while (!(RCT_REG(uart + STATE) & STATE_RXFULL))
        rct_wfi();
    int c = (int)(RCT_REG(uart + DATA) & 0xFFu);
    /* The RX interrupt status stays set until cleared (unlike the STM32's RXNE). */
    RCT_REG(uart + INTCLEAR) = INT_RX;
    rct_rx_wake_clear(irq);
    return c;
}
