/* I/O shim of the kernel test harness: the host build uses stdio (harness_io_stdio.c), the
 * Cortex-M build the board's polled UART (harness_io_uart.c). */
#ifndef HARNESS_IO_H
#define HARNESS_IO_H

#include <stdint.h>

void harness_io_init(void);                         /* before the READY frame */
int  harness_io_read(void *buf, uint32_t n);        /* 0 when n bytes were read, -1 at EOF/error */
int  harness_io_write(const void *buf, uint32_t n); /* 0 on success */
void harness_io_flush(void);

#endif
