/* Fault handler: sends an unsolicited FAULT frame with the stacked PC/LR and the fault status
 * registers over the link, so the host prints what happened instead of timing out. */
#include "rct_board_regs.h"
#include "rct_link.h"

void rct_fault_report(const uint32_t *frame, uint32_t exc_return);

__attribute__((naked)) void Fault_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "b rct_fault_report\n");
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

void rct_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    uint8_t p[29];
    p[0] = (uint8_t)(ipsr & 0xFFu); /* exception number: 3 hard, 4 mem, 5 bus, 6 usage */
    put32(p + 1, frame[6]);          /* stacked PC */
    put32(p + 5, frame[5]);          /* stacked LR */
    put32(p + 9, frame[7]);          /* stacked xPSR */
    put32(p + 13, SCB_CFSR);
    put32(p + 17, SCB_HFSR);
    put32(p + 21, SCB_MMFAR);
    put32(p + 25, SCB_BFAR);
    (void)exc_return;
    rct_link_send(RCT_MSG_FAULT, 0, p, sizeof p);
    for (;;) {
    }
}
