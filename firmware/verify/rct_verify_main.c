/* The verification app of a frozen part (rct-tflm verify --target qemu-*): after a READY word
 * ("RCTV", input size, output size, all u32 little-endian) it reads one sample of
 * RCT_FROZEN_INPUT_SIZE int8 at a time from the board's UART and answers with its
 * RCT_FROZEN_OUTPUT_SIZE int8 outputs, forever. No framing: it runs on an emulated UART, which
 * loses nothing; real boards are verified through the training firmware's INFER instead. */
#include "rct_frozen.h"
#include "rct_link.h"

static int8_t x[RCT_FROZEN_INPUT_SIZE], y[RCT_FROZEN_OUTPUT_SIZE];
static int8_t arena[RCT_FROZEN_ARENA_BYTES + 4] __attribute__((aligned(4)));

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int main(void)
{
    uint8_t ready[12];
    uint32_t i;
    rct_board_init();
    put_u32(ready, 0x56544352u); /* "RCTV" */
    put_u32(ready + 4, RCT_FROZEN_INPUT_SIZE);
    put_u32(ready + 8, RCT_FROZEN_OUTPUT_SIZE);
    rct_board_write(ready, sizeof ready);
    for (;;) {
        for (i = 0; i < RCT_FROZEN_INPUT_SIZE; i++) {
            const int c = rct_board_getc();
            if (c < 0) return 0;
            x[i] = (int8_t)(uint8_t)c;
        }
        rct_frozen_forward(x, y, 1, arena);
        rct_board_write((const uint8_t *)y, RCT_FROZEN_OUTPUT_SIZE);
    }
}
