/* Host build: the "UART" is stdin/stdout (a pipe or a pty set up by rct_tflm.link). */
#include <unistd.h>

#include "rct_link.h"

const char rct_board_name[] = "host";

void rct_board_init(void) {}

void rct_board_write(const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w <= 0)
            _exit(1); /* host side went away */
        p += w;
        n -= (size_t)w;
    }
}

int rct_board_getc(void)
{
    static uint8_t buf[256];
    static ssize_t have, pos;
    if (pos >= have) {
        have = read(0, buf, sizeof buf);
        pos = 0;
        if (have <= 0)
            return -1;
    }
    return buf[pos++];
}
