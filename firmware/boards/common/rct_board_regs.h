/* The handful of memory-mapped registers the board ports touch (no vendor headers needed). */
#ifndef RCT_BOARD_REGS_H
#define RCT_BOARD_REGS_H
#include <stdint.h>

#define RCT_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* The UART's bit rate, 8N1: `rct-tflm build --baud N` sets it (build.json records it, and
 * `rct-tflm stream --firmware DIR` opens the port at the same rate). */
#ifndef RCT_UART_BAUD
#define RCT_UART_BAUD 115200u
#endif

/* System control block (ARMv7-M). */
#define SCB_CPACR RCT_REG(0xE000ED88u)
#define SCB_CFSR RCT_REG(0xE000ED28u)
#define SCB_HFSR RCT_REG(0xE000ED2Cu)
#define SCB_MMFAR RCT_REG(0xE000ED34u)
#define SCB_BFAR RCT_REG(0xE000ED38u)
#define SCB_AIRCR RCT_REG(0xE000ED0Cu)

/* NVIC (ARMv7-M). */
#define NVIC_ISER(n) RCT_REG(0xE000E100u + 4u * (n))
#define NVIC_ICPR(n) RCT_REG(0xE000E280u + 4u * (n))

/* Waiting for a received byte without an interrupt handler: the UART's receive interrupt is
 * enabled in the NVIC but masked by PRIMASK, so it is never taken; it only wakes WFI (which
 * ignores PRIMASK). Its pending bit latches, so it is cleared after each byte is read. The
 * core sleeps between bytes instead of spinning on the status register — on QEMU every status
 * read takes the emulator's global lock and wakes its I/O thread, which then starves. Faults
 * still reach fault.c: with PRIMASK set they escalate to HardFault (CFSR keeps the cause). */
static inline void rct_rx_wake_init(uint32_t irq)
{
    __asm volatile("cpsid i" ::: "memory");
    NVIC_ICPR(irq / 32u) = 1u << (irq % 32u);
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}
static inline void rct_rx_wake_clear(uint32_t irq) { NVIC_ICPR(irq / 32u) = 1u << (irq % 32u); }
static inline void rct_wfi(void) { __asm volatile("dsb\n wfi" ::: "memory"); }

/* SysTick. */
#define SYST_CSR RCT_REG(0xE000E010u)
#define SYST_RVR RCT_REG(0xE000E014u)
#define SYST_CVR RCT_REG(0xE000E018u)

/* A free-running SysTick (no interrupt): a QEMU timer that wakes the emulator's main loop every
 * `reload` CPU clocks. The UART drivers no longer need it (they sleep in WFI and QEMU wakes
 * its I/O thread when the guest reads the data register); kept for tests/kernel_harness. */
static inline void rct_qemu_uart_kick(uint32_t reload)
{
    SYST_RVR = reload - 1u;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* ENABLE | CLKSOURCE = CPU; TICKINT off */
}

/* STM32 GPIO port (same layout on F4, F7 and L4). */
#define GPIO_MODER(p) RCT_REG((p) + 0x00u)
#define GPIO_OSPEEDR(p) RCT_REG((p) + 0x08u)
#define GPIO_PUPDR(p) RCT_REG((p) + 0x0Cu)
#define GPIO_AFR(p, pin) RCT_REG((p) + 0x20u + 4u * ((pin) / 8u))

/* Puts `pin` of GPIO port `port` in alternate function `af` (push-pull, high speed, pull-up). */
static inline void rct_gpio_af(uint32_t port, uint32_t pin, uint32_t af)
{
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2u * pin))) | (2u << (2u * pin));
    GPIO_OSPEEDR(port) |= 3u << (2u * pin);
    GPIO_PUPDR(port) = (GPIO_PUPDR(port) & ~(3u << (2u * pin))) | (1u << (2u * pin));
    uint32_t sh = 4u * (pin % 8u);
    GPIO_AFR(port, pin) = (GPIO_AFR(port, pin) & ~(0xFu << sh)) | (af << sh);
}

/* UART drivers (firmware/boards/common/uart_*.c); `brr` is the baud divider, `rx_irq` the
 * NVIC number of the UART's receive interrupt (used only to wake WFI, see above). */
void rct_uart_stm32_v1_init(uint32_t base, uint32_t brr, uint32_t rx_irq); /* F4: SR/DR */
void rct_uart_stm32_v2_init(uint32_t base, uint32_t brr, uint32_t rx_irq); /* F7/L4: ISR/RDR */
void rct_uart_cmsdk_init(uint32_t base, uint32_t bauddiv, uint32_t rx_irq); /* MPS2 CMSDK */

#endif
