/* STM32F405 on QEMU netduinoplus2: HSI 16 MHz (reset default), USART1 on PA9/PA10 (AF7) = serial0. */
#include "rct_board_regs.h"
#include "rct_link.h"

const char rct_board_name[] = "qemu-stm32f405";

#define RCC_AHB1ENR RCT_REG(0x40023830u)
#define RCC_APB2ENR RCT_REG(0x40023844u)
#define GPIOA 0x40020000u
#define USART1 0x40011000u

void rct_board_init(void)
{
    RCC_AHB1ENR |= 1u << 0; /* GPIOA */
    RCC_APB2ENR |= 1u << 4; /* USART1 */
    rct_gpio_af(GPIOA, 9, 7);
    rct_gpio_af(GPIOA, 10, 7);
    rct_uart_stm32_v1_init(USART1, 16000000u / RCT_UART_BAUD, 37u); /* USART1 IRQ 37 */
}
