#include "rct_link.h"

/* Inverse of rct_cobs_encode; out may alias in (the output never overtakes the input). */
size_t rct_cobs_decode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t code = in[i++];
        if (code == 0)
            return (size_t)-1;
        for (uint8_t k = 1; k < code; k++) {
            if (i >= n || in[i] == 0)
                return (size_t)-1;
            out[o++] = in[i++];
        }
        if (code != 0xFF && i < n)
            out[o++] = 0;
    }
    return o;
}
