/* NUCLEO-L476RG: switches SYSCLK from MSI 4 MHz to HSI16, USART2 on PA2/PA3 (AF7) = ST-LINK VCP.
 * L4 USART: the ISR/TDR/RDR register layout; L4 RCC and GPIO sit at other addresses than F4. */
#include "rct_board_regs.h"
#include "rct_link.h"

const char rct_board_name[] = "nucleo-l476rg";

#define RCC_CR RCT_REG(0x40021000u)
#define RCC_CFGR RCT_REG(0x40021008u)
#define RCC_AHB2ENR RCT_REG(0x4002104Cu)
#define RCC_APB1ENR1 RCT_REG(0x40021058u)
#define GPIOA 0x48000000u
#define USART2 0x40004400u

void rct_board_init(void)
{
    RCC_CR |= 1u << 8; /* HSION */
    while (!(RCC_CR & (1u << 10))) { /* HSIRDY */
    }
    RCC_CFGR = (RCC_CFGR & ~3u) | 1u; /* SW = HSI16 (0 flash wait states are fine at 16 MHz) */
    while (((RCC_CFGR >> 2) & 3u) != 1u) {
    }
    RCC_AHB2ENR |= 1u << 0;   /* GPIOA */
    RCC_APB1ENR1 |= 1u << 17; /* USART2, clocked from PCLK1 = 16 MHz */
    rct_gpio_af(GPIOA, 2, 7);
    rct_gpio_af(GPIOA, 3, 7);
    rct_uart_stm32_v2_init(USART2, 16000000u / RCT_UART_BAUD, 38u); /* USART2 IRQ 38 */
}
