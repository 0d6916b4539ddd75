/* I/O shim of the kernel test harness: the host build uses stdio (harness_io_stdio.c); a
 * Cortex-M build (QEMU, issue 4) supplies the same three functions over a UART or semihosting. */
#ifndef HARNESS_IO_H
#define HARNESS_IO_H

#include <stdint.h>

int  harness_io_read(void *buf, uint32_t n);        /* 0 when n bytes were read, -1 at EOF/error */
int  harness_io_write(const void *buf, uint32_t n); /* 0 on success */
void harness_io_flush(void);

#endif
