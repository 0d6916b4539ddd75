/* STM32F746G-DISCO: HSI 16 MHz (reset default), USART1 TX PA9 / RX PB7 (AF7) = ST-LINK VCP.
 * F7 USART: the ISR/TDR/RDR register layout. */
#include "rct_board_regs.h"
#include "rct_link.h"

const char rct_board_name[] = "stm32f746g-disco";

#define RCC_AHB1ENR RCT_REG(0x40023830u)
#define RCC_APB2ENR RCT_REG(0x40023844u)
#define GPIOA 0x40020000u
#define GPIOB 0x40020400u
#define USART1 0x40011000u

void rct_board_init(void)
{
    RCC_AHB1ENR |= (1u << 0) | (1u << 1); /* GPIOA, GPIOB */
    RCC_APB2ENR |= 1u << 4;               /* USART1 */
    rct_gpio_af(GPIOA, 9, 7);
    rct_gpio_af(GPIOB, 7, 7);
    rct_uart_stm32_v2_init(USART1, 16000000u / RCT_UART_BAUD, 37u); /* USART1 IRQ 37 */
}
