/* Cortex-M3/M4/M7 start-up: vector table, .data/.bss set-up, FPU enable, then main().
 * Only the 16 core vectors: the firmware polls its UART and enables no interrupt. */
#include <stdint.h>

#include "rct_board_regs.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void); /* fault.c: reports over the link */

static void Default_Handler(void)
{
    for (;;) {
    }
}

__attribute__((section(".isr_vector"), used)) void (*const rct_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack,
    Reset_Handler,
    Default_Handler, /* NMI */
    Fault_Handler,   /* HardFault */
    Fault_Handler,   /* MemManage */
    Fault_Handler,   /* BusFault */
    Fault_Handler,   /* UsageFault */
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
};

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* Full access to CP10/CP11 before any floating-point instruction can run. */
    SCB_CPACR |= 0xFu << 20;
    __asm volatile("dsb\n isb" ::: "memory");
#endif
    /* Memory-mapped fault status shows which fault fired: enable the configurable faults. */
    RCT_REG(0xE000ED24u) |= (1u << 16) | (1u << 17) | (1u << 18); /* SHCSR: MEM/BUS/USG */
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata)
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
    (void)main();
    for (;;) {
    }
}
