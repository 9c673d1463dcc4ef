/* nftw */
#define _XOPEN_SOURCE 700
#include "scan.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fftw3.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sodium.h>

#include "accumulator.h"
#include "detect_keys.h"
#include "detector.h"
#include "frame.h"
#include "payload.h"
#include "pool.h"
#include "scan_stats.h"
#include "still.h"
#include "tool_util.h"
#include "video_io.h"

/* What one key found in one file. */
typedef struct KeyHit {
    double z, log10p;
    long hyp;
    int found, sig, payload_valid;
    FmPayload payload;
    float *soft;          /* a still's soft coded bits, kept when it counts for the
                             combined evidence but its own signature did not verify */
} KeyHit;

typedef struct FileRec {
    char *path;
    char *error;          /* set: the file could not be read */
    int still;
    long frames;
    double master_pos;
    KeyHit *k;            /* nkeys */
} FileRec;

typedef struct Scan {
    const FmScanOptions *opt;
    FmKey *const *keys;
    int nkeys;
    FmStillKey **sk;
    char (*fp)[FM_FINGERPRINT_CHARS + 1];
    FileRec *files;
    size_t nfiles, cap;
    atomic_size_t next;
    size_t done, hits, unreadable;
    pthread_mutex_t out;  /* output, progress and the counters above */
    int tty;
    int file_threads;     /* each file's per-frame threads: the cores the scan leaves it */
    double start, last;
    atomic_int fatal;     /* FM_ENOMEM seen: stop */
} Scan;

/* ---- the list of files ---- */

static Scan *walk_scan;   /* nftw has no user pointer */

static int add_path(Scan *s, const char *path, const char *error)
{
    if (s->nfiles == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        FileRec *f = realloc(s->files, sizeof(*f) * cap);
        if (!f)
            return -1;
        s->files = f;
        s->cap = cap;
    }
    FileRec *f = &s->files[s->nfiles];
    memset(f, 0, sizeof(*f));
    if (!(f->path = strdup(path)) || (error && !(f->error = strdup(error))))
        return -1;
    s->nfiles++;
    return 0;
}

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_F)
        return add_path(walk_scan, path, NULL) < 0 ? -1 : 0;
    if (type == FTW_DNR)
        return add_path(walk_scan, path, "directory cannot be read") < 0 ? -1 : 0;
    if (type == FTW_NS)
        return add_path(walk_scan, path, "cannot stat") < 0 ? -1 : 0;
    return 0;  /* directories, symbolic links (not followed) */
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const FileRec *)a)->path, ((const FileRec *)b)->path);
}

static int list_files(Scan *s)
{
    if (!strcmp(s->opt->root, "-")) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = 0;
            if (n > 0 && add_path(s, line, NULL) < 0) {
                free(line);
                return -1;
            }
        }
        free(line);
        return 0;
    }
    struct stat st;
    if (stat(s->opt->root, &st) != 0) {
        fprintf(stderr, "wmdetect: --scan '%s': %s\n", s->opt->root, strerror(errno));
        return -2;
    }
    if (!S_ISDIR(st.st_mode))
        return add_path(s, s->opt->root, NULL);
    walk_scan = s;
    if (nftw(s->opt->root, walk_one, 32, FTW_PHYS) != 0)
        return -1;
    qsort(s->files, s->nfiles, sizeof(*s->files), by_path);
    return 0;
}

/* ---- reading one file ---- */

/* What one key found, from a detector's result. */
static int keep_result(FileRec *f, KeyHit *k, const FmDetectResult *res, const float *soft,
                       int decoded, FmError *err)
{
    k->z = res->pilot_z;
    k->log10p = res->false_alarm_log10;
    k->hyp = res->hypotheses;
    k->found = res->found;
    k->sig = res->signature_valid;
    k->payload_valid = res->payload_valid;
    k->payload = res->payload;
    if (k->found)
        f->master_pos = res->master_position;
    if (decoded && !k->sig && k->log10p <= log10(FM_SCAN_FILE_TAU)) {
        if (!(k->soft = malloc(sizeof(float) * FM_CODED_BITS)))
            return fm_error_set(err, FM_ENOMEM, "out of memory");
        memcpy(k->soft, soft, sizeof(float) * FM_CODED_BITS);
    }
    return 0;
}

static int keep_clip_result(void *ctx, int key, const FmDetectResult *res, const FmEvidence *ev,
                            int better, FmError *err)
{
    (void)ev;
    (void)better;
    FileRec *f = ctx;
    return keep_result(f, &f->k[key], res, NULL, 0, err);
}

static int keep_still_result(void *ctx, int key, const FmDetectResult *res, const float *soft,
                             int decoded, FmError *err)
{
    FileRec *f = ctx;
    return keep_result(f, &f->k[key], res, soft, decoded, err);
}

/*
 * Reads one file: a picture that decodes to one frame goes to the still
 * detector (pic: the thread's reusable grid), anything longer to the video
 * detector.
 */
static int scan_file(Scan *s, FileRec *f, FmStillPicture *pic, FmError *err)
{
    FmVideoReader *rd = NULL;
    FmAccumulator acc = { 0 };
    AVFrame *first = NULL, *frame;
    int have_acc = 0, ret, r;
    double t0 = NAN;

    if ((ret = fm_reader_open(&rd, f->path, err)) < 0)
        goto end;
    fm_reader_set_read_only(rd, 1);    /* the pictures are only read */
    const FmVideoInfo *info = fm_reader_info(rd);
    if ((r = fm_reader_next(rd, &frame, err)) <= 0) {
        ret = r < 0 ? r : fm_error_set(err, FM_EFORMAT, "no decodable picture");
        goto end;
    }
    if (!(first = av_frame_clone(frame))) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory");
        goto end;
    }
    f->frames = 1;
    if ((r = fm_reader_next(rd, &frame, err)) < 0) {
        ret = r;
        goto end;
    }
    if (r == 0) {   /* a still */
        f->still = 1;
        ptrdiff_t stride;
        const uint8_t *luma = fm_frame_luma(first, &stride);
        if ((ret = fm_still_picture_set(pic, luma, stride, info->width, info->height,
                                        info->bit_depth, err)) < 0)
            goto end;
        /* every key's result is kept, each corrected for all the keys */
        ret = fm_still_detect_keys(pic, s->sk, s->nkeys, keep_still_result, f, err);
        goto end;
    }
    /* a clip: every frame into the accumulator, then each key */
    if ((ret = fm_accumulator_init(&acc, info->width, info->height, err)) < 0)
        goto end;
    have_acc = 1;
    /* files read at a time share the cores (the result is the same whatever
     * the threads; short of memory for the threads, it works on one) */
    fm_accumulator_set_threads(&acc, s->file_threads);
    /* a small clip also on a grid of the mark's resolution (picture in
     * picture) */
    if ((ret = fm_accumulator_search_insets(&acc, err)) < 0)
        goto end;
    t0 = fm_reader_frame_seconds(rd, first);
    ptrdiff_t stride;
    const uint8_t *luma = fm_frame_luma(first, &stride);
    if ((ret = fm_accumulator_add_weighted(&acc, luma, stride, info->bit_depth, 0,
                                           fm_frame_evidence_weight(first, s->opt->intra_weight),
                                           err)) < 0)
        goto end;
    do {
        double t = fm_reader_frame_seconds(rd, frame);
        luma = fm_frame_luma(frame, &stride);
        if ((ret = fm_accumulator_add_weighted(&acc, luma, stride, info->bit_depth, t - t0,
                                               fm_frame_evidence_weight(frame, s->opt->intra_weight),
                                               err)) < 0)
            goto end;
        if (acc.frames_left_out)  /* past the clip time a scan reads (accumulator.h) */
            break;
        f->frames++;
    } while ((r = fm_reader_next(rd, &frame, err)) > 0);
    if ((ret = r) < 0)
        goto end;
    FmDetectResult best;
    int best_key;
    ret = fm_detect_keys(&acc, s->keys, s->nkeys, NULL, keep_clip_result, f, &best, &best_key,
                         err);
end:
    av_frame_free(&first);
    if (have_acc)
        fm_accumulator_free(&acc);
    fm_reader_close(&rd);
    return ret;
}

/* ---- output ---- */

static void print_unreadable(Scan *s, const FileRec *f)
{
    if (s->opt->json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "file", f->path, "status", "unreadable",
                              "error", f->error);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
    }
    if (s->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "wmdetect: %s: not read: %s\n", f->path, f->error);
}

static void print_hit(Scan *s, const FileRec *f, int i)
{
    const KeyHit *k = &f->k[i];
    int counted = k->log10p <= log10(FM_SCAN_FILE_TAU);
    if (s->opt->json) {
        char issued[32] = "";
        int show = k->payload_valid && k->sig;
        if (show)
            fm_minutes_to_iso8601(k->payload.issued_minutes, issued, sizeof(issued));
        const char *ai = show ? fm_ai_use_name(k->payload.ai_use) : NULL;
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(f->path));
        json_object_set_new(o, "found", json_boolean(k->found));
        json_object_set_new(o, "counted", json_boolean(counted));
        json_object_set_new(o, "signature_valid", json_boolean(k->sig));
        json_object_set_new(o, "title_id", show ? json_integer(k->payload.title_id) : json_null());
        json_object_set_new(o, "recipient_id",
                            show ? json_integer(k->payload.recipient_id) : json_null());
        json_object_set_new(o, "issued", show ? json_string(issued) : json_null());
        json_object_set_new(o, "ai_use", !show ? json_null()
                                         : ai ? json_string(ai) : json_integer(k->payload.ai_use));
        json_object_set_new(o, "key_fingerprint", json_string(s->fp[i]));
        json_object_set_new(o, "false_alarm_log10", json_real(k->log10p));
        json_object_set_new(o, "pilot_z", json_real(k->z));
        json_object_set_new(o, "hypotheses", json_integer(k->hyp));
        json_object_set_new(o, "still", json_boolean(f->still));
        json_object_set_new(o, "frames_read", json_integer(f->frames));
        json_object_set_new(o, "master_position_seconds", json_real(f->master_pos));
        json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    if (s->tty)
        fputs("\r\033[K", stderr);
    if (k->sig)
        printf("%s: watermark found: title %u, recipient %u, signature valid (key %s, p = 10^%.1f)\n",
               f->path, k->payload.title_id, k->payload.recipient_id, s->fp[i], k->log10p);
    else if (k->found)
        printf("%s: watermark found, payload not verified (key %s, p = 10^%.1f)\n", f->path,
               s->fp[i], k->log10p);
    else
        printf("%s: weak trace (key %s, p = 10^%.1f: not a detection alone; counted in the "
               "combined evidence)\n", f->path, s->fp[i], k->log10p);
    fflush(stdout);
}

static void progress(Scan *s, int final)
{
    if (!s->tty || s->opt->quiet)
        return;
    double now = fm_now();
    if (!final && now - s->last < 0.25)
        return;
    s->last = now;
    double rate = s->done / (now - s->start + 1e-9);
    fprintf(stderr, "\rscanning %zu/%zu files  %.1f files/s  %zu hits  %zu unreadable   ",
            s->done, s->nfiles, rate, s->hits, s->unreadable);
    if (final)
        fputs("\r\033[K", stderr);
    fflush(stderr);
}

static void report_file(Scan *s, FileRec *f)
{
    pthread_mutex_lock(&s->out);
    s->done++;
    if (f->error) {
        s->unreadable++;
        print_unreadable(s, f);
    } else {
        int hit = 0;
        for (int i = 0; i < s->nkeys; i++)
            if (f->k[i].found || f->k[i].log10p <= log10(FM_SCAN_FILE_TAU)) {
                print_hit(s, f, i);
                hit |= f->k[i].found;
            }
        s->hits += hit;
    }
    progress(s, 0);
    pthread_mutex_unlock(&s->out);
}

static void *worker(void *arg)
{
    Scan *s = arg;
    FmStillPicture pic = { 0 };
    for (;;) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->nfiles || s->fatal)
            break;
        FileRec *f = &s->files[i];
        if (!f->error) {
            FmError err = { { 0 } };
            if (!(f->k = calloc((size_t)s->nkeys, sizeof(KeyHit)))) {
                s->fatal = 1;
                break;
            }
            int r = scan_file(s, f, &pic, &err);
            if (r == FM_ENOMEM) {
                s->fatal = 1;
                break;
            }
            if (r < 0) {
                /* the reader's messages name the file, which the line
                 * already does: keep the reason */
                char m[sizeof err.msg];
                const char *q = strstr(err.msg, f->path);
                size_t lp = strlen(f->path);
                if (q && q > err.msg && q[-1] == '\'' && q[lp] == '\'') {
                    size_t head = (size_t)(q - 1 - err.msg);
                    while (head > 0 && err.msg[head - 1] == ' ')
                        head--;
                    const char *rest = q + lp + 1;
                    if (!head)
                        while (*rest == ':' || *rest == ' ')
                            rest++;
                    snprintf(m, sizeof m, "%.*s%s", (int)head, err.msg, rest);
                } else {
                    snprintf(m, sizeof m, "%s", err.msg);
                }
                if (!(f->error = strdup(*m ? m : "cannot be read"))) {
                    s->fatal = 1;
                    break;
                }
            }
        }
        report_file(s, f);
    }
    fm_still_picture_free(&pic);
    return NULL;
}

/* ---- the summary ---- */

typedef struct Title {
    uint32_t id;
    long alone;        /* files whose own signature verified */
    long counted;      /* of those, files with p <= tau */
    long joint;        /* files read jointly as this title */
    long recipients;   /* distinct recipients among the verified files */
    uint32_t rec[16];
} Title;

static Title *title_of(Title *t, int *nt, int cap, uint32_t id)
{
    for (int i = 0; i < *nt; i++)
        if (t[i].id == id)
            return &t[i];
    if (*nt >= cap)
        return NULL;
    memset(&t[*nt], 0, sizeof(Title));
    t[*nt].id = id;
    return &t[(*nt)++];
}

static int summarise(Scan *s, double seconds, json_t *js, int *any_sig, int *any_present)
{
    size_t readable = s->nfiles - s->unreadable;
    enum { MAX_TITLES = 256 };
    Title *titles = calloc(MAX_TITLES, sizeof(Title));
    float *sum = malloc(sizeof(float) * FM_CODED_BITS);
    if (!titles || !sum) {
        free(titles);
        free(sum);
        return FM_ENOMEM;
    }
    if (!s->opt->json)
        printf("scan: %zu files, %zu read, %zu unreadable, in %.1f s (%.1f files/s)\n",
               s->nfiles, readable, s->unreadable, seconds, s->nfiles / (seconds + 1e-9));
    json_t *jkeys = json_array();
    for (int i = 0; i < s->nkeys; i++) {
        int nt = 0;
        long alone = 0, counted = 0, pooled = 0;
        memset(sum, 0, sizeof(float) * FM_CODED_BITS);
        for (size_t j = 0; j < s->nfiles; j++) {
            const FileRec *f = &s->files[j];
            if (f->error || !f->k)
                continue;
            const KeyHit *k = &f->k[i];
            int c = k->log10p <= log10(FM_SCAN_FILE_TAU);
            alone += k->found;
            counted += c;
            if (k->sig && k->payload_valid) {
                Title *t = title_of(titles, &nt, MAX_TITLES, k->payload.title_id);
                if (t) {
                    t->alone++;
                    t->counted += c;
                    int seen = 0;
                    for (long r = 0; r < t->recipients && r < 16; r++)
                        seen |= t->rec[r] == k->payload.recipient_id;
                    if (!seen && t->recipients < 16)
                        t->rec[t->recipients++] = k->payload.recipient_id;
                }
            } else if (k->soft) {
                for (int b = 0; b < FM_CODED_BITS; b++)
                    sum[b] += k->soft[b];
                pooled++;
            }
        }
        /* the stills that count but did not verify alone, decoded together */
        FmDetectResult joint = { 0 };
        if (pooled >= 2) {
            FmError err = { { 0 } };
            if (fm_still_decode_soft(sum, s->keys[i], 0, &joint, &err) < 0) {
                free(titles);
                free(sum);
                return FM_ENOMEM;
            }
            if (joint.signature_valid && joint.payload_valid) {
                Title *t = title_of(titles, &nt, MAX_TITLES, joint.payload.title_id);
                if (t)
                    t->joint = pooled;
            }
        }
        double comb_key = fm_scan_combined_log10((long)readable, counted, FM_SCAN_FILE_TAU, s->nkeys);
        *any_present |= alone > 0 || comb_key <= log10(FM_FALSE_ALARM_THRESHOLD);
        json_t *jk = json_object();
        json_object_set_new(jk, "key_fingerprint", json_string(s->fp[i]));
        json_object_set_new(jk, "files_found_alone", json_integer(alone));
        json_object_set_new(jk, "files_counted", json_integer(counted));
        json_object_set_new(jk, "combined_false_alarm_log10", json_real(comb_key));
        json_object_set_new(jk, "pooled_stills", json_integer(pooled));
        json_object_set_new(jk, "pooled_signature_valid", json_boolean(joint.signature_valid));
        if (!s->opt->json && (alone || counted))
            printf("key %s: %ld files carry the mark alone (p <= 1e-9); %ld with p <= %.0e, "
                   "combined p = 10^%.1f over %zu files\n", s->fp[i], alone, counted,
                   FM_SCAN_FILE_TAU, comb_key, readable);
        if (!s->opt->json && pooled >= 2 && !joint.signature_valid)
            printf("  %ld stills with a trace but no signature of their own: their summed "
                   "evidence does not verify either\n", pooled);
        json_t *jt = json_array();
        for (int t = 0; t < nt; t++) {
            Title *ti = &titles[t];
            long k_t = ti->counted + ti->joint;
            double comb = fm_scan_combined_log10((long)readable, k_t, FM_SCAN_FILE_TAU, s->nkeys);
            *any_sig = 1;
            json_array_append_new(jt, json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}",
                "title_id", (json_int_t)ti->id, "files_signature_valid", (json_int_t)ti->alone,
                "files_read_jointly", (json_int_t)ti->joint, "files_counted", (json_int_t)k_t,
                "recipients", (json_int_t)ti->recipients, "combined_false_alarm_log10", comb));
            if (!s->opt->json)
                printf("  title %u: %ld files with a valid signature of their own%s; %ld more "
                       "read jointly (their summed evidence verifies); %ld files counted, "
                       "combined p = 10^%.1f\n", ti->id, ti->alone,
                       ti->recipients > 1 ? " (several recipients)" : "", ti->joint, k_t, comb);
        }
        json_object_set_new(jk, "titles", jt);
        json_array_append_new(jkeys, jk);
    }
    json_object_set_new(js, "keys", jkeys);
    free(titles);
    free(sum);
    return 0;
}

int fm_scan_run(const FmScanOptions *opt, FmKey *const *keys, int nkeys)
{
    Scan s = { .opt = opt, .keys = keys, .nkeys = nkeys };
    int ret = 2, nthreads = opt->threads;
    pthread_t *th = NULL;
    int started = 0;
    pthread_mutex_init(&s.out, NULL);
#ifdef __GLIBC__
    /* Every file opens a decoder whose picture buffers (hundreds of kB) are
     * freed with it. glibc would hand them back to the kernel (mmap above
     * the threshold, heap trimming below it) and fault the pages in again
     * for the next file: a third of a 512-px scan's CPU time went there.
     * The scan keeps freed memory for reuse instead. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
    s.sk = calloc((size_t)nkeys, sizeof(*s.sk));
    s.fp = calloc((size_t)nkeys, sizeof(*s.fp));
    if (!s.sk || !s.fp)
        goto nomem;
    for (int i = 0; i < nkeys; i++) {
        FmError err = { { 0 } };
        if (fm_still_key_new(&s.sk[i], keys[i], &err) < 0)
            goto nomem;
        fm_key_fingerprint(keys[i], s.fp[i]);
    }
    int lr = list_files(&s);
    if (lr == -2)
        goto end;
    if (lr < 0)
        goto nomem;
    if (nthreads <= 0)
        nthreads = fm_cpu_count();
    if ((size_t)nthreads > s.nfiles)
        nthreads = s.nfiles ? (int)s.nfiles : 1;
    s.file_threads = fm_cpu_count() / nthreads;
    if (s.file_threads < 1)
        s.file_threads = 1;
    /* fm_detect (clips) makes FFTW plans; the planner must be serialised */
    fftwf_make_planner_thread_safe();
    s.tty = isatty(fileno(stderr));
    s.start = s.last = fm_now();
    if (!(th = calloc((size_t)nthreads, sizeof(*th))))
        goto nomem;
    for (; started < nthreads; started++)
        if (pthread_create(&th[started], NULL, worker, &s) != 0)
            break;
    if (!started) {
        fprintf(stderr, "wmdetect: cannot start the scan threads\n");
        goto end;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (s.fatal)
        goto nomem;
    progress(&s, 1);
    double seconds = fm_now() - s.start;
    json_t *js = json_object();
    int any_sig = 0, any_present = 0;
    json_object_set_new(js, "files", json_integer((json_int_t)s.nfiles));
    json_object_set_new(js, "files_read", json_integer((json_int_t)(s.nfiles - s.unreadable)));
    json_object_set_new(js, "files_unreadable", json_integer((json_int_t)s.unreadable));
    json_object_set_new(js, "seconds", json_real(seconds));
    json_object_set_new(js, "threads", json_integer(started));
    json_object_set_new(js, "file_threshold", json_real(FM_SCAN_FILE_TAU));
    if (summarise(&s, seconds, js, &any_sig, &any_present) < 0) {
        json_decref(js);
        goto nomem;
    }
    if (opt->json) {
        json_t *o = json_pack("{s:o}", "summary", js);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
    } else {
        json_decref(js);
    }
    ret = any_sig ? 0 : any_present ? 3 : 1;
    goto end;
nomem:
    fprintf(stderr, "wmdetect: out of memory during the scan\n");
    ret = 2;
end:
    free(th);
    for (size_t i = 0; i < s.nfiles; i++) {
        free(s.files[i].path);
        free(s.files[i].error);
        if (s.files[i].k)
            for (int k = 0; k < nkeys; k++)
                if (s.files[i].k[k].soft) {
                    sodium_memzero(s.files[i].k[k].soft, sizeof(float) * FM_CODED_BITS);
                    free(s.files[i].k[k].soft);
                }
        free(s.files[i].k);
    }
    free(s.files);
    if (s.sk)
        for (int i = 0; i < nkeys; i++)
            fm_still_key_free(&s.sk[i]);
    free(s.sk);
    free(s.fp);
    pthread_mutex_destroy(&s.out);
    return ret;
}
