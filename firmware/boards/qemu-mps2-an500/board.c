/* qemu-mps2-an500: 25 MHz system clock (fixed by the FPGA image), CMSDK UART0 at 0x40004000 = serial0.
 * No clock or pin set-up exists on MPS2: the UART is wired directly. */
#include "rct_board_regs.h"
#include "rct_link.h"

const char rct_board_name[] = "qemu-mps2-an500";

void rct_board_init(void)
{
    rct_uart_cmsdk_init(0x40004000u, 25000000u / RCT_UART_BAUD, 0u); /* UART0 RX IRQ 0 */
}
