/*
 * filmmark.h - the public C API of the filmmark library: find a filmmark
 * watermark in a clip, verify its signed payload, and say how likely a
 * false alarm is, with the same code wmdetect runs.
 *
 * Everything a program may call is declared here, with the prefix
 * filmmark_ (types Filmmark..., macros FILMMARK_ and FM_API...). The shared
 * library libfilmmark.so exports these functions and nothing else.
 *
 * Use:
 *
 *     FilmmarkError err;
 *     FilmmarkKeys *keys = NULL;
 *     FilmmarkResult res;
 *     if (filmmark_api_version() != FM_API_VERSION)
 *         ...;                       // built against another header
 *     if (filmmark_keys_new(&keys, &err) < 0 ||
 *         filmmark_keys_add_file(keys, "studio.dkey", &err) < 0 ||
 *         filmmark_detect_file(keys, "clip.mp4", NULL, &res, &err) < 0)
 *         fprintf(stderr, "%s\n", err.message);
 *     else if (res.verified)
 *         printf("title %u recipient %u (p = %.3g)\n", res.title_id,
 *                res.recipient_id, res.false_alarm_probability);
 *     filmmark_keys_free(&keys);
 *
 * Frames the caller decodes itself go through a FilmmarkDetector instead
 * of filmmark_detect_file (see examples/detect_file.c and docs/API.md).
 *
 * Errors: every function that can fail returns 0 (or a count) on success
 * and a negative FILMMARK_E* code on failure, and when given a non-NULL
 * FilmmarkError leaves one line of text in it saying what went wrong.
 * Destructors take a pointer to the handle, free it and set it to NULL;
 * NULL is a no-op.
 *
 * Threads: the functions may be called from one thread at a time for the
 * whole library (the FFTW planner the geometry search uses is shared).
 * A detector itself uses several threads for each frame (threads below).
 */
#ifndef FILMMARK_H
#define FILMMARK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header's API: the layout of its structures and the
 * meaning of its functions. Raised whenever either changes; compare it with
 * filmmark_api_version() (the library's) before using anything else.
 * FM_API_VERSION 4: filmmark_detector_add_frame_weighted and
 * FILMMARK_INTRA_WEIGHT. FM_API_VERSION 5: FilmmarkResult's averaged_pair
 * and pair_* fields (two recipients' copies averaged). */
#define FM_API_VERSION 5

/* Marks the functions the library exports. */
#if defined(__GNUC__) || defined(__clang__)
#define FM_API __attribute__((visibility("default")))
#else
#define FM_API
#endif

/* Error codes (negative). */
enum {
    FILMMARK_OK = 0,
    FILMMARK_EINVAL = -1,     /* bad argument */
    FILMMARK_EIO = -2,        /* a file could not be read */
    FILMMARK_EFORMAT = -3,    /* the input is not what it claims (damaged key, no video) */
    FILMMARK_ENOMEM = -4,     /* out of memory */
    FILMMARK_ECODEC = -5,     /* the decoder failed */
    FILMMARK_EPERM = -6,      /* unsafe permissions (a key file readable by others) */
    FILMMARK_ECRYPTO = -7,    /* a signature or checksum does not verify */
    FILMMARK_ENOTFOUND = -8,  /* no such file, or no usable key in a directory */
};

/* What went wrong, in one line of text (no newline). */
typedef struct FilmmarkError {
    int code;                 /* the FILMMARK_E* code the function returned */
    char message[512];
} FilmmarkError;

/* Bytes of the signed message a mark carries (payload and signature). */
#define FILMMARK_MESSAGE_BYTES 78
/* Hex characters of a key fingerprint (plus a NUL in the arrays below). */
#define FILMMARK_FINGERPRINT_CHARS 16

/* FM_API_VERSION of the library that is running. */
FM_API int filmmark_api_version(void);
/* The library's release, e.g. "0.8.1". */
FM_API const char *filmmark_version(void);
/* The mark format the library writes (it reads this one and older ones). */
FM_API int filmmark_mark_format(void);
/* A short text for a FILMMARK_E* code ("bad argument", ...); never NULL. */
FM_API const char *filmmark_strerror(int code);

/* ---- detection keys ---- */

/* A set of detection keys: every key is tried, and the false-alarm
 * probability is corrected for their number. Secret: the keys are held in
 * locked memory and wiped when the set is freed. */
typedef struct FilmmarkKeys FilmmarkKeys;

/* An empty set. Returns 0, or FILMMARK_ENOMEM / FILMMARK_ECRYPTO (libsodium
 * could not start). */
FM_API int filmmark_keys_new(FilmmarkKeys **keys, FilmmarkError *err);

/*
 * Adds one key file: a detection key (.dkey) or an unsealed secret key
 * (.key), which must not be readable by group or others. A key the set
 * already holds is not added twice. Returns 0 or a negative code.
 */
FM_API int filmmark_keys_add_file(FilmmarkKeys *keys, const char *path, FilmmarkError *err);

/* Told about each key file of a directory that could not be used. */
typedef void (*FilmmarkSkipFn)(void *ctx, const char *path, const char *reason);

/*
 * Adds every usable .dkey and .key file of dir, in file name order, as
 * wmdetect does without -k. dir NULL: $FILMMARK_KEYS if set and not empty,
 * else ~/.config/filmmark/keys. Files that cannot be used are skipped and
 * told to skipped (may be NULL). Returns the number of keys the set holds
 * afterwards, or a negative code (FILMMARK_ENOTFOUND: the directory cannot
 * be read or no key in it can be used).
 */
FM_API int filmmark_keys_add_dir(FilmmarkKeys *keys, const char *dir, FilmmarkSkipFn skipped,
                                 void *ctx, FilmmarkError *err);

/* How many keys the set holds. */
FM_API int filmmark_keys_count(const FilmmarkKeys *keys);

/* The fingerprint of key i (0 .. count-1) as 16 hex characters and a NUL.
 * Returns 0 or FILMMARK_EINVAL. */
FM_API int filmmark_keys_fingerprint(const FilmmarkKeys *keys, int i,
                                     char out[FILMMARK_FINGERPRINT_CHARS + 1],
                                     FilmmarkError *err);

FM_API void filmmark_keys_free(FilmmarkKeys **keys);

/* ---- the result ---- */

/* How the marked picture lies in the clip (docs/DESIGN.md). */
typedef struct FilmmarkGeometry {
    double scale_x, scale_y;      /* clip pixels per marked-picture pixel (1: untouched) */
    double offset_x, offset_y;    /* a tile corner of the marked picture, clip pixels */
    int flip_h, flip_v;           /* mirrored */
    double rotation_deg;
    int perspective;              /* read through a map fitted to patches of the frame
                                     (a picture filmed at an angle, keystoned; since
                                     FM_API_VERSION 3 a turned one too): the figures
                                     above are those at the clip's centre */
} FilmmarkGeometry;

typedef struct FilmmarkResult {
    /* the verdict */
    int found;                    /* a mark is present: verified, or p <= 1e-9 */
    int verified;                 /* its signed message verifies under key_index's key:
                                     the payload fields below are the issuer's */
    int payload_valid;            /* the decoded payload has a known layout */
    /* the payload: only meaningful when verified */
    uint32_t title_id;
    uint32_t recipient_id;        /* 0: general release */
    uint32_t issued_minutes;      /* minutes since the Unix epoch, UTC */
    char issued[32];              /* the same, "2026-11-23T19:25Z"; "" if not verified */
    int ai_use;                   /* 0 reserved, 1 allowed, 2 attribution, 3 noncommercial */
    char ai_use_name[16];         /* "reserved", ...; "" if not verified or unknown */
    uint8_t message[FILMMARK_MESSAGE_BYTES];   /* the signed message; zero if not verified */
    int mark_format;              /* the mark format it was read with: 7 (today's,
                                     filmmark 0.9.x), 6 (0.6.x to 0.8.x, with the
                                     content tag), 5 (filmmark 0.5.x: its tag is
                                     checked with its own features), 4 (filmmark 0.4.x:
                                     its tag is not checked), 3 (filmmark 0.3.x) or 2
                                     (filmmark 0.2.x); 0 if not verified */
    /* formats 6 and 5: the mark's content tag against the clip's own pictures. A
     * verified mark counts as this picture's only when bound: a keyless copy
     * attack (the mark estimated from one video and pasted on another)
     * verifies but is not bound */
    int content_bound;            /* binding_z >= 5.0 and the tag agrees at >= 0.6 of
                                     the strength a copy of the marked pictures shows */
    int content_mismatch;         /* not bound, though the tag is strong enough to show
                                     it: another picture's tag (transplanted?) */
    double binding_z;             /* about N(0,1) on pictures the mark was not made for */
    int binding_epochs;           /* epoch groups whose tag was checked (0: not checked) */
    /* the evidence */
    double false_alarm_probability;   /* that an unmarked clip scores this well, corrected
                                         for every hypothesis searched and every key */
    double false_alarm_log10;     /* log10 of it (exact far below 1e-308) */
    double pilot_z;               /* normalised pilot correlation (best hypothesis) */
    int64_t hypotheses;           /* the correction factor: epochs x phases x stretches x
                                     geometries x keys (capped at 9e18: see below) */
    double hypotheses_log10;      /* log10 of the factor, not capped: a perspective
                                     search counts over 10^18 (FM_API_VERSION 2) */
    int keys_tried;
    int key_index;                /* the key of the best result, 0 .. keys_tried-1 */
    char key_fingerprint[FILMMARK_FINGERPRINT_CHARS + 1];
    double raw_ber;               /* coded-bit errors before error correction, 0..1 */
    int list_rank;                /* which candidate of the list decoder verified */
    /* where */
    FilmmarkGeometry geometry;
    double span[2];               /* seconds of the clip the mark was read from */
    double master_position;       /* seconds: where the clip starts in the marked master */
    int stretches, stretches_read;
    long frames_read;
    /* two copies averaged (FM_API_VERSION 5, filmmark 0.9.16; docs/DESIGN.md
     * section 2, the pair read): the clip is the per-pixel average of two
     * recipients' copies, a collusion. Only when verified */
    int averaged_pair;            /* the verified message was read as one of two copies
                                     averaged */
    int pair_verified;            /* averaged_pair, and the other copy's signed message
                                     verifies under the same key: the pair_ fields are
                                     its payload */
    uint32_t pair_title_id;
    uint32_t pair_recipient_id;
    uint32_t pair_issued_minutes;
    char pair_issued[32];         /* "2026-11-23T19:25Z"; "" unless pair_verified */
    int pair_ai_use;
    char pair_ai_use_name[16];    /* "" unless pair_verified, or an unknown value */
    uint8_t pair_message[FILMMARK_MESSAGE_BYTES];   /* zero unless pair_verified */
} FilmmarkResult;

/* ---- frames the caller decodes ---- */

typedef struct FilmmarkDetector FilmmarkDetector;

/*
 * A detector for pictures of width x height (the clip's luma plane: 16 to
 * 16384 a side, at most 8192x4320 pixels, aspect ratio within the limits
 * wmdetect reads) under keys, which must outlive it. threads: threads for
 * each frame's work, 0 = all online cores (the result is the same bit for
 * bit whatever the count). Returns 0 or a negative code.
 */
FM_API int filmmark_detector_new(FilmmarkDetector **det, const FilmmarkKeys *keys, int width,
                                 int height, int threads, FilmmarkError *err);

/*
 * Adds one frame's luma (Y) plane: width x height samples, rows stride
 * bytes apart; bit_depth 8 takes one byte a sample, 9..16 a host-order
 * uint16_t a sample on that scale (FFmpeg's yuv420p10le and the like).
 * pts_seconds: the frame's presentation time (>= 0, finite; the detector
 * finds the mark's timing from it). Evidence is kept for the first 300 s
 * of clip time from the first frame added (FM_API_VERSION 3: mark format
 * 7 keeps about 36 MB a minute at 16:9); later frames are taken and left
 * out. Every frame added here counts once: a caller that knows the picture
 * type gives it with filmmark_detector_add_frame_weighted below. Returns 0
 * or a negative code.
 */
FM_API int filmmark_detector_add_frame(FilmmarkDetector *det, const void *luma,
                                       ptrdiff_t stride, int bit_depth, double pts_seconds,
                                       FilmmarkError *err);

/* The weight wmdetect and filmmark_detect_file give a frame the decoder
 * reports as intra-coded (an I frame; any other frame weighs 1): filmmark
 * 0.9.9, wmdetect(1) --intra-weight. FM_API_VERSION 4. */
#define FILMMARK_INTRA_WEIGHT 40.0f
/* The largest weight filmmark_detector_add_frame_weighted takes. */
#define FILMMARK_MAX_FRAME_WEIGHT 1000.0f

/*
 * filmmark_detector_add_frame with the frame's mark evidence counted weight
 * times against the other frames of its half second of clip time (> 0 and
 * at most FILMMARK_MAX_FRAME_WEIGHT, 1000; 1 is filmmark_detector_add_frame,
 * bit for bit). A caller that
 * knows the picture type (FFmpeg: AVFrame.pict_type == AV_PICTURE_TYPE_I,
 * or key_frame where the decoder sets no type) gives FILMMARK_INTRA_WEIGHT
 * for an I frame and 1 for the others, as wmdetect and filmmark_detect_file
 * do: on a re-encoded copy the I frames hold the mark best, and weighting
 * them reads it with fewer bit errors. The picture's content, which the
 * content tag is checked against, is summed unweighted. Weights chosen
 * without the key (a picture type is) leave the false-alarm probability
 * honest. Returns 0 or a negative code (FILMMARK_EINVAL: a weight that is
 * not a number in (0, 1000]). FM_API_VERSION 4.
 */
FM_API int filmmark_detector_add_frame_weighted(FilmmarkDetector *det, const void *luma,
                                                ptrdiff_t stride, int bit_depth,
                                                double pts_seconds, float weight,
                                                FilmmarkError *err);

/*
 * Detects on the frames added so far, with every key, and fills res (one
 * frame: the still-picture detector). May be called again after more
 * frames. Returns 0 whether or not a mark was found, or a negative code
 * (FILMMARK_EFORMAT: no frame yet).
 */
FM_API int filmmark_detector_result(FilmmarkDetector *det, FilmmarkResult *res,
                                    FilmmarkError *err);

FM_API void filmmark_detector_free(FilmmarkDetector **det);

/* ---- a file ---- */

typedef struct FilmmarkFileOptions {
    double start;       /* seconds to skip (0: from the beginning) */
    double duration;    /* seconds to read (0: the first 300 s; FM_API_VERSION 3,
                           to the end before) */
    int threads;        /* as filmmark_detector_new */
} FilmmarkFileOptions;

/*
 * Decodes path (anything FFmpeg reads, a still picture too) and detects as
 * wmdetect does, with the same frames, times, frame weights (an I frame
 * counts FILMMARK_INTRA_WEIGHT times) and result. opt may be NULL
 * (the whole clip, all cores). Returns 0 whether or not a mark was found,
 * or a negative code.
 */
FM_API int filmmark_detect_file(const FilmmarkKeys *keys, const char *path,
                                const FilmmarkFileOptions *opt, FilmmarkResult *res,
                                FilmmarkError *err);

#ifdef __cplusplus
}
#endif

#endif
