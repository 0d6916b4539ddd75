/* nucleo-f411re: HSI 16 MHz (reset default), USART2 on PA2/PA3 (AF7) = ST-LINK virtual COM port. */
#include "rct_board_regs.h"
#include "rct_link.h"

const char rct_board_name[] = "nucleo-f411re";

#define RCC_AHB1ENR RCT_REG(0x40023830u)
#define RCC_APB1ENR RCT_REG(0x40023840u)
#define GPIOA 0x40020000u
#define USART2 0x40004400u

void rct_board_init(void)
{
    RCC_AHB1ENR |= 1u << 0;  /* GPIOA */
    RCC_APB1ENR |= 1u << 17; /* USART2 */
    rct_gpio_af(GPIOA, 2, 7);
    rct_gpio_af(GPIOA, 3, 7);
    rct_uart_stm32_v1_init(USART2, 16000000u / RCT_UART_BAUD, 38u); /* USART2 IRQ 38 */
}
