/* Host I/O shim: requests on stdin, responses on stdout (binary). */
#include <stdio.h>
#include "harness_io.h"

void harness_io_init(void)
{
}

int harness_io_read(void *buf, uint32_t n)
{
    return fread(buf, 1, n, stdin) == n ? 0 : -1;
}

int harness_io_write(const void *buf, uint32_t n)
{
    return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

void harness_io_flush(void)
{
    fflush(stdout);
}
