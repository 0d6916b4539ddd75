/* Weight storage experiment for tools/bench_packing.py (not part of the firmware): what packing
 * trainable weights at 12 bits costs per weight on Cortex-M, against the int16 containers the
 * firmware uses. Three measurements over the same values:
 *   dot_i16   the firmware's forward inner loop shape: SMLAD over int16 weight pairs
 *   dot_p12   the same dot over 12-bit packed weights (8 weights per 3 words), unpacked in
 *             registers into SMLAD pairs
 *   unpack12 / pack12   a whole tensor to and from int16 (what an update pass would add when it
 *             works on int16: read-modify-write of every weight) */
#include <stdint.h>
#include <arm_acle.h>

#define IN 64

int32_t dot_i16(const int16_t *x, const int16_t *w, int32_t rows, int32_t *out)
{
    int32_t r, i;
    for (r = 0; r < rows; r++) {
        const uint32_t *xp = (const uint32_t *)(const void *)x;
        const uint32_t *wp = (const uint32_t *)(const void *)(w + r * IN);
        int32_t a = 0;
        for (i = 0; i < IN / 2; i += 4) {
            a = __smlad(xp[i], wp[i], a);
            a = __smlad(xp[i + 1], wp[i + 1], a);
            a = __smlad(xp[i + 2], wp[i + 2], a);
            a = __smlad(xp[i + 3], wp[i + 3], a);
        }
        out[r] = a;
    }
    return out[0];
}

/* two 12-bit fields of `v` starting at bit `lo` as one SMLAD operand (low, high halves) */
#define PAIR(v, lo) ((uint32_t)(((int32_t)((v) << (20 - (lo))) >> 20) & 0xFFFF) | \
                     ((uint32_t)(((int32_t)((v) << (8 - (lo))) >> 20)) << 16))

int32_t dot_p12(const int16_t *x, const uint32_t *w, int32_t rows, int32_t *out)
{
    int32_t r, i;
    for (r = 0; r < rows; r++) {
        const uint32_t *xp = (const uint32_t *)(const void *)x;
        const uint32_t *wp = w + r * (IN * 3 / 8);
        int32_t a = 0;
        for (i = 0; i < IN / 2; i += 4, wp += 3) { /* 8 weights: 96 bits in 3 words */
            const uint32_t w0 = wp[0], w1 = wp[1], w2 = wp[2];
            const uint32_t m1 = (w0 >> 24) | (w1 << 8);  /* bits 24..55 */
            const uint32_t m2 = (w1 >> 16) | (w2 << 16); /* bits 48..79 */
            a = __smlad(xp[i], PAIR(w0, 0), a);
            a = __smlad(xp[i + 1], PAIR(m1, 0), a);
            a = __smlad(xp[i + 2], PAIR(m2, 0), a);
            a = __smlad(xp[i + 3], PAIR(w2, 8), a);
        }
        out[r] = a;
    }
    return out[0];
}

/* 8 weights per 3 words, word loads and stores (n a multiple of 8) */
void unpack12(const uint32_t *s, uint32_t *d, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i += 8, s += 3, d += 4) {
        const uint32_t w0 = s[0], w1 = s[1], w2 = s[2];
        d[0] = PAIR(w0, 0);
        d[1] = PAIR((w0 >> 24) | (w1 << 8), 0);
        d[2] = PAIR((w1 >> 16) | (w2 << 16), 0);
        d[3] = PAIR(w2, 8);
    }
}

void pack12(const uint32_t *s, uint32_t *d, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i += 8, s += 4, d += 3) {
        const uint32_t p0 = (s[0] & 0xFFFu) | ((s[0] >> 4) & 0xFFF000u);
        const uint32_t p1 = (s[1] & 0xFFFu) | ((s[1] >> 4) & 0xFFF000u);
        const uint32_t p2 = (s[2] & 0xFFFu) | ((s[2] >> 4) & 0xFFF000u);
        const uint32_t p3 = (s[3] & 0xFFFu) | ((s[3] >> 4) & 0xFFF000u);
        d[0] = p0 | (p1 << 24);
        d[1] = (p1 >> 8) | (p2 << 16);
        d[2] = (p2 >> 16) | (p3 << 8);
    }
}

int main(void) { return 0; }
