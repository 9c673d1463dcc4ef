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

/* Candidate of a list merge: a path's metric and where it came from. */
typedef struct ListEntry {
    double metric;
    uint16_t from;   /* predecessor's shifted-out bit << 8 | its rank there */
} ListEntry;

int fm_fec_decode_list(const float *soft, int nbits, int list, uint8_t *bits, int *found)
{
    if (list < 1 || list > FM_FEC_MAX_LIST)
        return FM_EINVAL;
    int steps = nbits + FM_FEC_TAIL, L = list;
    /* trace[(i * NSTATES + state) * L + rank]: how that path arrived */
    uint16_t *trace = malloc(sizeof(uint16_t) * (size_t)steps * NSTATES * L);
    double *metric = malloc(sizeof(double) * NSTATES * L);
    double *next = malloc(sizeof(double) * NSTATES * L);
    if (!trace || !metric || !next) {
        free(trace);
        free(metric);
        free(next);
        return FM_ENOMEM;
    }
    uint8_t out[NSTATES][2][FM_FEC_RATE];
    for (unsigned s = 0; s < NSTATES; s++)
        for (int in = 0; in < 2; in++)
            branch_output(s, in, out[s][in]);
    /* each state's L best paths, best first; -inf where there are fewer */
    for (int k = 0; k < NSTATES * L; k++)
        metric[k] = -DBL_MAX;
    metric[0] = 0;

    for (int i = 0; i < steps; i++) {
        const float *y = soft + i * FM_FEC_RATE;
        for (unsigned ns = 0; ns < NSTATES; ns++) {
            int in = (int)(ns >> (FM_FEC_K - 2)) & 1;
            double *dst = next + (size_t)ns * L;
            uint16_t *tr = trace + ((size_t)i * NSTATES + ns) * L;
            if (in && i >= nbits) {  /* the tail shifts in zeros only */
                for (int k = 0; k < L; k++)
                    dst[k] = -DBL_MAX;
                continue;
            }
            /* the two predecessors differ in the bit shifted out; merge
             * their sorted lists, each extended by its branch */
            unsigned p[2];
            double bm[2];
            for (int low = 0; low < 2; low++) {
                p[low] = ((ns << 1) & (NSTATES - 1)) | (unsigned)low;
                double m = 0;
                for (int g = 0; g < FM_FEC_RATE; g++)
                    m += out[p[low]][in][g] ? y[g] : -y[g];
                bm[low] = m;
            }
            const double *a = metric + (size_t)p[0] * L, *b = metric + (size_t)p[1] * L;
            int ia = 0, ib = 0;
            for (int k = 0; k < L; k++) {
                double va = ia < L && a[ia] > -DBL_MAX ? a[ia] + bm[0] : -DBL_MAX;
                double vb = ib < L && b[ib] > -DBL_MAX ? b[ib] + bm[1] : -DBL_MAX;
                if (va == -DBL_MAX && vb == -DBL_MAX) {
                    dst[k] = -DBL_MAX;
                    tr[k] = 0;
                } else if (va >= vb) {
                    dst[k] = va;
                    tr[k] = (uint16_t)ia++;
                } else {
                    dst[k] = vb;
                    tr[k] = (uint16_t)(1u << 8 | (unsigned)ib++);
                }
            }
        }
        double *t = metric;
        metric = next;
        next = t;
    }

    /* terminated code: every path ends in state 0; trace each back */
    int n = 0;
    for (int r = 0; r < L && metric[r] > -DBL_MAX; r++, n++) {
        unsigned state = 0;
        int rank = r;
        uint8_t *dst = bits + (size_t)n * nbits;
        for (int i = steps - 1; i >= 0; i--) {
            uint16_t f = trace[((size_t)i * NSTATES + state) * L + rank];
            if (i < nbits)
                dst[i] = (uint8_t)((state >> (FM_FEC_K - 2)) & 1);
            state = ((state << 1) | (f >> 8)) & (NSTATES - 1);
            rank = f & 0xff;
        }
    }
    *found = n;
    free(trace);
    free(metric);
    free(next);
    return 0;
}

int fm_fec_decode(const float *soft, int nbits, uint8_t *bits)
{
    int n;
    return fm_fec_decode_list(soft, nbits, 1, bits, &n);
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
