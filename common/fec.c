#include "fec.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "fm_error.h"

#define NSTATES (1 << (FM_FEC_K - 1))

/* Constraint length 9 decoded 18.5 % raw errors where length 7 (133, 171,
 * 165) failed at 14.8 %, on real footage scaled to 360p (docs/DESIGN.md). */
static const unsigned generators[FM_FEC_RATE] = { 0557, 0663, 0711 };

static int parity(unsigned v)
{
    return __builtin_parity(v);
}

/* Output bits for shifting `input` into `state` (register = input<<6 | state). */
static void branch_output(unsigned state, int input, uint8_t out[FM_FEC_RATE])
{
    unsigned reg = ((unsigned)input << (FM_FEC_K - 1)) | state;
    for (int g = 0; g < FM_FEC_RATE; g++)
        out[g] = (uint8_t)parity(reg & generators[g]);
}

void fm_fec_encode(const uint8_t *bits, int nbits, uint8_t *coded)
{
    unsigned state = 0;
    for (int i = 0; i < nbits + FM_FEC_TAIL; i++) {
        int in = i < nbits ? bits[i] & 1 : 0;
        branch_output(state, in, coded + i * FM_FEC_RATE);
        state = ((state >> 1) | ((unsigned)in << (FM_FEC_K - 2))) & (NSTATES - 1);
    }
}

int fm_fec_decode(const float *soft, int nbits, uint8_t *bits)
{
    int steps = nbits + FM_FEC_TAIL;
    uint8_t *decision = malloc((size_t)steps * NSTATES);
    if (!decision)
        return FM_ENOMEM;
    double metric[NSTATES], next[NSTATES];
    uint8_t out[NSTATES][2][FM_FEC_RATE];

    for (unsigned s = 0; s < NSTATES; s++)
        for (int in = 0; in < 2; in++)
            branch_output(s, in, out[s][in]);
    for (int s = 0; s < NSTATES; s++)
        metric[s] = s ? -DBL_MAX / 4 : 0;

    for (int i = 0; i < steps; i++) {
        const float *y = soft + i * FM_FEC_RATE;
        for (int s = 0; s < NSTATES; s++)
            next[s] = -DBL_MAX;
        for (unsigned s = 0; s < NSTATES; s++) {
            if (metric[s] <= -DBL_MAX / 8)
                continue;
            for (int in = 0; in < (i < nbits ? 2 : 1); in++) {
                double m = metric[s];
                for (int g = 0; g < FM_FEC_RATE; g++)
                    m += out[s][in][g] ? y[g] : -y[g];
                unsigned ns = ((s >> 1) | ((unsigned)in << (FM_FEC_K - 2))) & (NSTATES - 1);
                if (m > next[ns]) {
                    next[ns] = m;
                    /* remember which predecessor: its lowest bit is shifted out */
                    decision[(size_t)i * NSTATES + ns] = (uint8_t)(s & 1);
                }
            }
        }
        memcpy(metric, next, sizeof(metric));
    }

    /* terminated code: trace back from state 0 */
    unsigned state = 0;
    for (int i = steps - 1; i >= 0; i--) {
        int in = (int)(state >> (FM_FEC_K - 2)) & 1;
        unsigned low = decision[(size_t)i * NSTATES + state];
        if (i < nbits)
            bits[i] = (uint8_t)in;
        state = ((state << 1) | low) & (NSTATES - 1);
    }
    free(decision);
    return 0;
}

void fm_bytes_to_bits(const uint8_t *bytes, int nbytes, uint8_t *bits)
{
    for (int i = 0; i < nbytes * 8; i++)
        bits[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
}

void fm_bits_to_bytes(const uint8_t *bits, int nbytes, uint8_t *bytes)
{
    memset(bytes, 0, (size_t)nbytes);
    for (int i = 0; i < nbytes * 8; i++)
        bytes[i >> 3] |= (uint8_t)((bits[i] & 1) << (7 - (i & 7)));
}
