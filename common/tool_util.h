/*
 * tool_util.h - small pieces shared by the command-line tools (not used by
 * the library proper): number parsing, progress lines, hex, file hashing.
 */
#ifndef FM_TOOL_UTIL_H
#define FM_TOOL_UTIL_H

#include <stdint.h>
#include <stdio.h>

#include "fm_error.h"

/* Parses a whole decimal string into 0..UINT32_MAX; returns 0 or FM_EINVAL. */
int fm_parse_u32(const char *s, uint32_t *out);
/* Parses a whole decimal string into lo..hi. */
int fm_parse_int(const char *s, int lo, int hi, int *out);
/* Parses a finite positive double. */
int fm_parse_double(const char *s, double *out);

/* Lower-case hex of n bytes into out (2n+1 chars). */
void fm_hex(const uint8_t *in, size_t n, char *out);
/* Parses exactly n bytes of hex; returns 0 or FM_EINVAL. */
int fm_unhex(const char *hex, uint8_t *out, size_t n);

/* SHA-256 of a file's contents as 64 hex chars + NUL. */
int fm_sha256_file(const char *path, char out[65], FmError *err);

/* fm_sha256_file on a thread of its own, so that a long file is hashed
 * while it is decoded: _start (0 or FM_ENOMEM; the path is copied), then
 * _join for its result (what fm_sha256_file returns; *h freed, NULL).
 * _join of NULL returns 0 and leaves out alone. */
typedef struct FmFileHash FmFileHash;
int fm_sha256_file_start(FmFileHash **h, const char *path, FmError *err);
int fm_sha256_file_join(FmFileHash **h, char out[65], FmError *err);

/* Seconds on a monotonic clock. */
double fm_now(void);

typedef struct FmProgress {
    FILE *out;          /* NULL: silent */
    int tty;            /* refresh one line with \r */
    double start, last;
    long total;         /* frames expected, 0 if unknown */
    FILE *machine;      /* --progress: key=value blocks for farm logs, or NULL */
    double last_machine;
} FmProgress;

/* Also writes ffmpeg-style "key=value" progress blocks to f (every 0.5 s and
 * at the end, closed by "progress=continue" or "progress=end"). */
void fm_progress_machine(FmProgress *p, FILE *f);

/* --loglevel: FFmpeg's own messages (quiet, error, warning, info, debug);
 * sets av_log's level. Returns 0 or FM_EINVAL. */
int fm_set_loglevel(const char *name);

/* Progress on stream only when it is a terminal (unless quiet). */
void fm_progress_init(FmProgress *p, FILE *stream, long total, int quiet);
void fm_progress_update(FmProgress *p, long frames, const char *what);
void fm_progress_end(FmProgress *p);
/* fm_progress_end(), and the final "progress=end" block with frames. */
void fm_progress_end_frames(FmProgress *p, long frames);

struct option;
/*
 * The one-line message for an option getopt_long() refused (it returned
 * '?' or ':', with opterr = 0 and ":" leading the short options): names the
 * argument as typed, "-x" inside a cluster such as "-xq", and tells an
 * ambiguous long-option prefix from an unknown one. Into buf; returns buf.
 */
const char *fm_option_error(const struct option *opts, char **argv, int c, char *buf,
                            size_t len);

/* With --json, a failed run still prints one JSON object on stdout:
 * {"schema": "filmmark-error-1", "tool", "version", "error", "exit_status"}. */
void fm_print_json_error(FILE *out, const char *tool, const char *msg, int exit_status);

/* True when a and b name the same existing file. */
int fm_same_file(const char *a, const char *b);

/* Copies standard input to a new private file (mode 0600) in $TMPDIR (else
 * /tmp) and puts its name in path: a clip given as "-" is then read like any
 * file (its hash, a second reading). The caller unlinks it. 0 or FM_E*. */
int fm_spool_stdin(char *path, size_t len, FmError *err);

#endif
