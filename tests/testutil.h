/*
 * testutil.h - small helpers shared by the Criterion tests.
 */
#ifndef FM_TESTUTIL_H
#define FM_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

/* Fresh directory under $TMPDIR (or /tmp); malloc'd path, aborts on failure. */
char *tu_mkdtemp(void);
/* Removes dir and everything in it, then frees the string. NULL is a no-op. */
void tu_rmtree(char *dir);
/* dir + "/" + name, malloc'd; aborts on failure. */
char *tu_path(const char *dir, const char *name);
/* Whole file into a malloc'd, NUL-terminated buffer; 0 or -1. */
int tu_read_file(const char *path, char **data, size_t *len);
/* Creates or truncates path with exactly this mode and writes data; 0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len, mode_t mode);

#endif

/* ---- added for the watermark, false-alarm and CLI tests ---- */

#include <stdint.h>

struct FmKey;

/* Deterministic PRNG (splitmix64): same seed, same sequence on every host. */
typedef struct TuRng {
    uint64_t s;
} TuRng;

void tu_rng_seed(TuRng *r, uint64_t seed);
uint64_t tu_rng_u64(TuRng *r);
/* Uniform in [0, 1). */
double tu_rng_uniform(TuRng *r);
/* Uniform integer in [0, n). */
uint32_t tu_rng_below(TuRng *r, uint32_t n);
/* Standard normal (Box-Muller). */
double tu_rng_gauss(TuRng *r);
/* n bits (0 or 1, one a byte) drawn from r. */
void tu_random_bits(TuRng *r, uint8_t *bits, int n);
/* Clean soft values of coded bits (one a byte): +amp for a 1, -amp for a 0. */
void tu_bits_to_soft(const uint8_t *coded, int n, float amp, float *soft);
/* How many of the n bytes of a and b differ. */
int tu_count_diff(const uint8_t *a, const uint8_t *b, int n);

/*
 * A deterministic secret key for tests: both the Ed25519 pair and the
 * watermark key come from seed (different seeds, unrelated keys). key must
 * come from fm_key_new(); fm_init() must have been called.
 */
void tu_fixed_key(struct FmKey *key, uint32_t seed);

/* Kinds of synthetic luma content (tu_synth_luma). */
enum {
    TU_SYNTH_TEXTURED = 0,  /* noise + gradient + static texture + moving shapes */
    TU_SYNTH_NOISE,         /* fresh white noise every frame */
    TU_SYNTH_STATIC_NOISE,  /* the same noise every frame (a still, grainy shot) */
    TU_SYNTH_GRADIENT,      /* slowly drifting linear gradient */
    TU_SYNTH_CHECKER,       /* checkerboard, some cell sizes, slowly moving */
    TU_SYNTH_SHAPES,        /* random rectangles and discs moving on flat grey */
    TU_SYNTH_BARS,          /* testsrc-like vertical bars with a moving box */
    TU_SYNTH_ZONEPLATE,     /* lavfi zoneplate-like chirp, phase moving */
    TU_SYNTH_SINES,         /* a few sinusoidal gratings */
    TU_SYNTH_FLAT,          /* nearly flat, dark, faint noise */
    TU_SYNTH_BLOCKS,        /* random 8x8/16x16 blocks of random levels (like
                               blocky compressed content), static */
    TU_SYNTH_KINDS
};
const char *tu_synth_name(int kind);

/*
 * Draws frame number `frame` of a synthetic clip of the given kind and seed
 * into a w x h luma plane: 8-bit samples if bit_depth == 8, else uint16 host
 * order on a bit_depth scale. Only the first w samples of each row are written.
 */
void tu_synth_luma(uint8_t *plane, ptrdiff_t stride, int w, int h, int bit_depth, int kind,
                   uint64_t seed, int frame);

/*
 * Runs argv[0] (a path) with argv, stdin from /dev/null, and collects its
 * stdout and stderr into malloc'd NUL-terminated strings (either pointer may
 * be NULL to discard). Returns the exit status, 128 + signal number if it
 * was killed, or -1 if it could not be started.
 */
int tu_run(const char *const argv[], char **out, char **err);
/* tu_run with the child's file size limited (RLIMIT_FSIZE, SIGXFSZ ignored, so
 * writes past it fail with EFBIG); max_file_bytes < 0: no limit. */
int tu_run_limited(const char *const argv[], char **out, char **err, long max_file_bytes);

/* What tu_run_va collected: exit status (as tu_run) and malloc'd output. */
typedef struct TuRunResult {
    int rc;
    char *out, *err;
} TuRunResult;
/* tu_run on prog (a path) with the NULL-terminated arguments in ap (at most 62). */
TuRunResult tu_run_va(const char *prog, va_list ap);
void tu_run_result_free(TuRunResult *r);
/* Formats a shell command and runs it with system(); returns the exit status. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Number of entries in a directory (without . and ..), -1 on error. */
int tu_dir_entries(const char *dir);
/* Number of '\n'-terminated lines in s (a final unterminated line counts too). */
int tu_count_lines(const char *s);

/*
 * n 8-bit luma planes of the bundled sample (samples/sample.mkv, real
 * footage, 768x576), the centre cw x ch of each (cw or ch <= 0: the whole
 * picture); *w and *h (may be NULL) get the planes' size. Aborts when the
 * sample cannot be read. Free with tu_free_planes.
 */
uint8_t **tu_sample_luma(int n, int cw, int ch, int *w, int *h);
void tu_free_planes(uint8_t **planes, int n);

/*
 * The set-up of a marking test: fm_init(), a key from tu_fixed_key(seed)
 * (free with fm_key_free) and *payload (current version, the given ids,
 * issued at minute 29000000) signed into message. Aborts on failure.
 */
struct FmPayload;
struct FmKey *tu_signed_message(uint32_t seed, uint32_t title_id, uint32_t recipient_id,
                                struct FmPayload *payload, uint8_t *message);
