/* qemu-mps2-an386: 25 MHz system clock (fixed by the FPGA image), CMSDK UART0 at 0x40004000 = serial0.
 * No clock or pin set-up exists on MPS2: the UART is wired directly. */
#include "rct_board_regs.h"
#include "rct_link.h"

#ifndef RCT_QEMU_KICK_RELOAD
#define RCT_QEMU_KICK_RELOAD 25000u /* 1 ms */
#endif

const char rct_board_name[] = "qemu-mps2-an386";

void rct_board_init(void)
{
    rct_uart_cmsdk_init(0x40004000u, 25000000u / 115200u);
    rct_qemu_uart_kick(RCT_QEMU_KICK_RELOAD);
}
