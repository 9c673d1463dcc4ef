/*
 * wmembed - stamps a signed, invisible watermark into a video deliverable.
 */
#include <getopt.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <libavutil/log.h>

#include "atomic_file.h"
#include "deliverable.h"
#include "pipeline.h"
#include "fingerprint.h"
#include "frame.h"
#include "keys.h"
#include "passphrase.h"
#include "pattern.h"
#include "payload.h"
#include "recipients.h"
#include "registry.h"
#include "resample.h"
#include "tool_util.h"
#include "video_io.h"
#include "version.h"

#define EXIT_USAGE 2
#define DEFAULT_VERIFY_SECONDS 20.0
#define DEFAULT_BATCH 4

/* Set by SIGINT/SIGTERM/SIGHUP/SIGQUIT: the run stops and removes whatever
 * it has not published. Publication itself runs with the signals blocked. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static const int caught_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void catch_signals(sigset_t *set)
{
    /* a closed output pipe is a write error (EPIPE) we report, not a death */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigemptyset(set);
    for (size_t i = 0; i < sizeof(caught_signals) / sizeof(*caught_signals); i++) {
        sigaction(caught_signals[i], &sa, NULL);
        sigaddset(set, caught_signals[i]);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: wmembed -k KEY.key -i MASTER -o DELIVERABLE --title-id N --recipient-id N\n"
        "               [options]\n"
        "       wmembed -k KEY.key -i MASTER --recipients LIST.csv --title-id N [options]\n"
        "       ... -i - -o - --format y4m --receipt R.json   (a pipeline stage)\n"
        "\n"
        "Embeds the signed payload (title id, recipient id, issue time, AI-use policy)\n"
        "invisibly in every frame of MASTER and encodes DELIVERABLE (VP9/WebM by\n"
        "default), reads it back to check that its own mark verifies, and writes a\n"
        "signed receipt to DELIVERABLE.receipt.json. Receipt and deliverable appear\n"
        "together or not at all. The master is never modified.\n"
        "\n"
        "  -k, --key FILE        secret key made by wmkeygen (mode 0600)\n"
        "      --passphrase-file F  the key's passphrase, first line of F (else\n"
        "                        $FILMMARK_PASSPHRASE, else asked on the terminal)\n"
        "  -i, --input FILE      master video: a regular file FFmpeg reads (a FIFO or\n"
        "                        device is refused: it is read twice), or - = standard\n"
        "                        input, a streamable container such as y4m (its other\n"
        "                        streams are not carried); pictures of %d to %d pixels\n"
        "                        a side, at most 8192x4320 pixels, aspect 1:%d to %d:1\n"
        "  -o, --output FILE     deliverable to write (.webm, .mkv, .mp4, .mov, .y4m,\n"
        "                        .nut; - = standard output, needs --format and\n"
        "                        --receipt)\n"
        "      --format F        the output container: y4m, mkv, webm, mp4, mov, nut\n"
        "                        (default: from the output's name)\n"
        "      --receipt FILE    where the signed receipt goes (default\n"
        "                        DELIVERABLE.receipt.json; required with -o -)\n"
        "  -t, --title-id N      title id, 0..4294967295\n"
        "  -r, --recipient-id N  recipient id, 0..4294967295 (0 = general release)\n"
        "      --recipients FILE screener batch: a CSV list id,name,output (optional\n"
        "                        header line); one deliverable and receipt each, from\n"
        "                        one decode of MASTER per --batch-size recipients\n"
        "      --batch-size N    deliverables encoded per decode pass, 1..64 (default %d);\n"
        "                        memory grows with it, not with the list\n"
        "      --strength S      mark amplitude, default 1.0 (~45 dB luma PSNR; every\n"
        "                        frame held at luma SSIM >= 1 - 0.01 S^2)\n"
        "      --no-fill         do not raise the mark of frames with room under the\n"
        "                        PSNR cap and above the SSIM floor (default: raised\n"
        "                        towards the floor, at most 1.41x)\n"
        "      --codec C         vp9 (default), h264, ffv1 (lossless) or raw (y4m,\n"
        "                        the default there)\n"
        "      --crf N           quality, 0..63 (default: vp9 24, h264 18)\n"
        "      --owner, --title, --recipient NAME  names recorded in the receipt\n"
        "      --issued TIME     issue time to sign instead of now, to the minute:\n"
        "                        YYYY-MM-DDTHH:MM[:SS] then Z (UTC) or an offset such as\n"
        "                        +07:00 (converted to UTC); seconds dropped; or 'now'\n"
        "      --ai-use POLICY   the rights holder's AI training/mining policy, signed\n"
        "                        into the mark: reserved (default, the cautious\n"
        "                        choice), allowed, attribution or noncommercial\n"
        "      --registry LOC    record every issuance in this registry: a SQLite file\n"
        "                        or postgresql://... (default $FILMMARK_REGISTRY, else\n"
        "                        ~/.local/share/filmmark/registry.sqlite)\n"
        "      --no-registry     record nothing (the receipt is the only record)\n"
        "      --verify-seconds S  seconds of each deliverable read back (default %.0f;\n"
        "                        0 = all of it)\n"
        "      --no-verify       do not read the deliverable back (receipt says so);\n"
        "                        with -o - the encoded pictures are checked as they\n"
        "                        are written instead of read back\n"
        "  -f, --force           overwrite DELIVERABLE and its receipt\n"
        "      --threads N       threads marking each frame, 1..256 (default: all cores;\n"
        "                        the output is the same whatever N)\n"
        "      --allow-short     mark a master that ends before its container says\n"
        "                        (truncated or damaged; recorded in the receipt);\n"
        "                        refused by default\n"
        "      --json            print a JSON summary on stdout\n"
        "      --progress FILE   key=value progress blocks for farm logs (- = stderr)\n"
        "  -v, --loglevel L      FFmpeg's own messages: quiet (default), error, warning,\n"
        "                        info, debug\n"
        "  -V, --version         the version and the formats it writes\n"
        "  -q, --quiet           no progress or summary text\n"
        "  -h, --help            this help\n", FM_MIN_SIDE, FM_MAX_SIDE, FM_MAX_ASPECT,
        FM_MAX_ASPECT, DEFAULT_BATCH, DEFAULT_VERIFY_SECONDS);
}

/* Set once the options are read: errors then also go to stdout as JSON. */
static int json_errors;
/* Where the summary (text or JSON) goes: stdout, or stderr when the
 * deliverable itself goes to stdout (-o -). */
static FILE *report;

static int fail(int code, const char *fmt, const char *a, const char *b)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), fmt, a, b);
    fprintf(stderr, "wmembed: %s\n", msg);
    if (json_errors)
        fm_print_json_error(report ? report : stdout, "wmembed", msg, code);
    return code;
}

enum { OPT_TITLE_ID = 256, OPT_RECIPIENT_ID, OPT_STRENGTH, OPT_CODEC, OPT_CRF, OPT_OWNER,
       OPT_TITLE, OPT_RECIPIENT, OPT_ISSUED, OPT_AI_USE, OPT_FORCE, OPT_JSON, OPT_RECIPIENTS,
       OPT_BATCH, OPT_VERIFY_SECONDS, OPT_NO_VERIFY, OPT_PASS_FILE, OPT_REGISTRY,
       OPT_NO_REGISTRY, OPT_ALLOW_SHORT, OPT_THREADS, OPT_FORMAT, OPT_RECEIPT, OPT_NO_FILL };

/* What became of the master's other streams, for --json. */
static json_t *streams_json(const FmVideoWriter *w)
{
    size_t n;
    const FmStreamNote *notes = fm_writer_stream_notes(w, &n);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:s, s:s?, s:s?}",
            "index", notes[i].index, "type", notes[i].type, "codec", notes[i].codec,
            "action", fm_carry_action_name(notes[i].action), "output_codec", notes[i].out_codec,
            "reason", notes[i].reason[0] ? notes[i].reason : NULL));
    return a;
}

/* One line on stderr per stream of the master that the deliverable lacks. */
static void report_dropped(const FmVideoWriter *w)
{
    size_t n;
    const FmStreamNote *notes = fm_writer_stream_notes(w, &n);
    for (size_t i = 0; i < n; i++)
        if (notes[i].action == FM_CARRY_DROPPED)
            fprintf(stderr, "wmembed: dropped %s stream %d (%s): %s\n", notes[i].type,
                    notes[i].index, notes[i].codec, notes[i].reason);
}

/* One deliverable's line of the summary. */
static json_t *deliverable_json(const Deliverable *d, const FmVideoInfo *info, const char *key_fp)
{
    char issued[32], sig_hex[2 * FM_SIGNATURE_BYTES + 1];
    fm_minutes_to_iso8601(d->payload.issued_minutes, issued, sizeof(issued));
    fm_hex(d->message + FM_PAYLOAD_BYTES, FM_SIGNATURE_BYTES, sig_hex);
    json_t *o = json_pack("{s:s, s:{s:i, s:I, s:I, s:s, s:s}, s:s, s:s, s:s, s:s, s:s,"
                          " s:I, s:f, s:f, s:f}",
        "output", d->output,
        "payload", "version", d->payload.version, "title_id", (json_int_t)d->payload.title_id,
                   "recipient_id", (json_int_t)d->payload.recipient_id, "issued", issued,
                   "ai_use", fm_ai_use_name(d->payload.ai_use),
        "signature", sig_hex, "key_fingerprint", key_fp, "output_sha256", d->sha256,
        "receipt", d->receipt_path, "recipient", d->recipient ? d->recipient : "",
        "frames", (json_int_t)d->frames, "luma_psnr_db", deliverable_psnr(d),
        "luma_psnr_worst_frame_db", d->worst_psnr, "luma_ssim", deliverable_ssim(d));
    json_object_set_new(o, "mark_gain_mean", json_real(deliverable_gain(d)));
    json_object_set_new(o, "registry_id", d->registry_id > 0 ? json_integer(d->registry_id)
                                                             : json_null());
    json_object_set_new(o, "width", json_integer(info->width));
    json_object_set_new(o, "height", json_integer(info->height));
    json_object_set_new(o, "streams", streams_json(d->writer));
    json_object_set_new(o, "self_check_method",
                        !d->checked ? json_null()
                        : json_string(d->stream_check ? "decoded_as_written" : "read_back"));
    if (!d->checked)
        json_object_set_new(o, "self_check", json_null());
    else
        json_object_set_new(o, "self_check", json_pack("{s:b, s:b, s:b, s:f, s:f, s:f, s:f}",
            "found", d->check.found, "signature_valid", d->check.signature_valid,
            "message_match", d->check.message_match, "pilot_z", d->check.pilot_z,
            "raw_bit_error_rate", d->check.raw_ber,
            "false_alarm_log10", d->check.false_alarm_log10,
            "seconds_read", d->check.seconds_read));
    if (d->checked) {
        json_t *sc = json_object_get(o, "self_check");
        json_object_set_new(sc, "wall_seconds", json_real(d->check_seconds));
        json_object_set_new(sc, "content_bound", d->check.bind_pairs
                                                 ? json_boolean(d->check.content_bound)
                                                 : json_null());
        json_object_set_new(sc, "binding_z", d->check.bind_pairs ? json_real(d->check.bind_z)
                                                                 : json_null());
    }
    return o;
}

static void print_deliverable(const Deliverable *d, const FmVideoInfo *info, const char *key_fp)
{
    char issued[32];
    fm_minutes_to_iso8601(d->payload.issued_minutes, issued, sizeof(issued));
    fprintf(report, "%s: marked %ld frames (%dx%d)\n",
           strcmp(d->output, "-") ? d->output : "standard output", d->frames, info->width, info->height);
    fprintf(report, "  payload:   title %u, recipient %u, issued %s, AI training %s\n",
           d->payload.title_id, d->payload.recipient_id, issued,
           fm_ai_use_name(d->payload.ai_use));
    fprintf(report, "  key:       %s\n", key_fp);
    fprintf(report, "  quality:   luma PSNR %.2f dB (worst frame %.2f dB), SSIM %.4f\n",
           deliverable_psnr(d), d->worst_psnr, deliverable_ssim(d));
    if (d->checked) {
        fprintf(report, "  verified:  %s %.1f s: signature valid, pilot z %.1f, %.1f %% raw bit "
               "errors\n", d->stream_check ? "decoded as written" : "read back",
               d->check.seconds_read, d->check.pilot_z, 100 * d->check.raw_ber);
        if (!d->check.bind_pairs)
            fprintf(report, "  bound:     not checked (shorter than two 2-s epochs, or flat "
                    "pictures): blind copies will verify only with the receipt\n");
        else
            fprintf(report, "  bound:     %s (z %.1f over %d epochs)\n",
                    d->check.content_bound ? "yes, the mark carries these pictures' tag"
                                           : "not confirmed on the deliverable itself: blind "
                                             "copies will verify only with the receipt",
                    d->check.bind_z, d->check.bind_pairs);
    }
    else
        fprintf(report, "  verified:  no (--no-verify)\n");
    fprintf(report, "  sha256:    %s\n", d->sha256);
    fprintf(report, "  receipt:   %s\n", d->receipt_path);
    if (d->registry_id > 0)
        fprintf(report, "  registry:  issuance %lld\n", (long long)d->registry_id);
}

/* Refuses outputs that would overwrite the master or (without --force) an
 * existing file, before any work is done. */
static int check_output(const char *in_path, const char *out_path, const char *receipt_opt,
                        int force, FmError *err)
{
    char receipt_path[4096];
    if (snprintf(receipt_path, sizeof(receipt_path), "%s", receipt_opt ? receipt_opt : "")
        >= (int)sizeof(receipt_path) ||
        (!receipt_opt && snprintf(receipt_path, sizeof(receipt_path), "%s.receipt.json",
                                  out_path) >= (int)sizeof(receipt_path)))
        return fm_error_set(err, FM_EINVAL, "output path too long: '%.100s...'", out_path);
    int stream = !strcmp(out_path, "-");
    if ((!stream && fm_same_file(in_path, out_path)) || fm_same_file(in_path, receipt_path))
        return fm_error_set(err, FM_EPERM, "refusing to overwrite the master '%s'", in_path);
    if (!stream && fm_remove_stale_temps(out_path, err) < 0)
        return FM_EIO;
    if (stream)
        out_path = receipt_path;    /* the only file made */
    if (!force && access(out_path, F_OK) == 0)
        return fm_error_set(err, FM_EPERM, "'%s' exists; use --force to overwrite", out_path);
    if (!force && access(receipt_path, F_OK) == 0)
        return fm_error_set(err, FM_EPERM, "'%s' exists; use --force to overwrite",
                            receipt_path);
    /* what a killed run of ours left under these names */
    if (fm_remove_stale_temps(receipt_path, err) < 0)
        return FM_EIO;
    return 0;
}

/* Names go into the signed receipt: no control characters (receipt.h). */
static int check_name(const char *what, const char *name, FmError *err)
{
    for (const char *c = name; c && *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return fm_error_set(err, FM_EINVAL, "%s name '%.60s' holds a control character",
                                what, name);
    return 0;
}

typedef struct Batch {
    const char *in_path;
    FmRecipient *list;
    size_t count;
    int batch_size;
    FmPayload payload;          /* recipient id filled per deliverable */
    DeliverableSettings set;
    FmRegistry *registry;       /* NULL: --no-registry */
    int allow_short;            /* --allow-short */
    char master_short[512];     /* why the master is short, when it was accepted */
    int json, quiet;
    FmVideoReader *opened;      /* the master opened by main, for the first pass */
    int notes_said;             /* the dropped streams were reported */
    json_t *summary;            /* array of deliverables written */
    size_t written, failed;
} Batch;

/*
 * One decode of the master for recipients [first, first + n): every frame
 * is marked and encoded once per recipient. The content fingerprint is
 * taken on the first pass (fp_done tells later passes it is complete).
 */
static int run_pass(Batch *b, size_t first, size_t n, FmFingerprint *content, int *fp_done,
                    FmProgress *prog, long *progress_frames, char key_fp[], FmError *err)
{
    FmVideoReader *reader = NULL;
    Pipeline *pipe = NULL;
    Deliverable *ds = calloc(n, sizeof(*ds));
    int r;
    if (!ds)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        ds[i].receipt.fd = -1;
    if (b->opened) {            /* standard input cannot be opened twice */
        reader = b->opened;
        b->opened = NULL;
    } else if ((r = fm_reader_open(&reader, b->in_path, err)) < 0) {
        goto end;
    }
    /* pipeline_push copies every picture into its ring: the decoder's own will do */
    fm_reader_set_read_only(reader, 1);
    /* a copy: the reader is closed before the deliverables are read back */
    FmVideoInfo info_copy = *fm_reader_info(reader);
    const FmVideoInfo *info = &info_copy;
    for (size_t i = 0; i < n; i++) {
        const FmRecipient *rc = &b->list[first + i];
        FmPayload p = b->payload;
        p.recipient_id = rc->id;
        if ((r = deliverable_open(&ds[i], &b->set, &p, rc->output, rc->name[0] ? rc->name : NULL,
                                  info, err)) < 0)
            goto end;
    }
    if (n > 0 && !b->notes_said) {
        report_dropped(ds[0].writer);
        b->notes_said = 1;
    }

    /* marking and encoding run on one thread per deliverable (pipeline.h) */
    if ((r = pipeline_start(&pipe, ds, n, info->bit_depth, err)) < 0)
        goto end;
    AVFrame *frame;
    long frames = 0;
    double t_origin = NAN;
    while ((r = fm_reader_next(reader, &frame, err)) > 0) {
        if (interrupted)
            break;
        /* master time from the master's first frame: it picks the epoch */
        double t = fm_reader_frame_seconds(reader, frame);
        if (isnan(t_origin))
            t_origin = t;
        t -= t_origin;
        /* the fingerprint of the master's pictures (the mark does not move it) */
        ptrdiff_t stride;
        const uint8_t *luma = fm_frame_luma(frame, &stride);
        if (!*fp_done && (r = fm_fingerprint_add(content, luma, stride, info->bit_depth,
                                                 info->width, info->height, t, err)) < 0)
            goto end;
        if ((r = pipeline_push(pipe, frame, t, err)) < 0)
            goto end;
        frames++;
        fm_progress_update(prog, ++*progress_frames, "embedding");
    }
    if (r < 0)
        goto end;
    if ((r = pipeline_finish(&pipe, interrupted != 0, err)) < 0)
        goto end;
    /* a truncated or damaged master must not become a short deliverable unnoticed */
    FmError short_err;
    if (!interrupted && frames > 0 && fm_reader_check_complete(reader, &short_err) < 0) {
        if (!b->allow_short) {
            r = fm_error_set(err, FM_EFORMAT, "%s (--allow-short to mark it anyway)",
                             short_err.msg);
            goto end;
        }
        snprintf(b->master_short, sizeof(b->master_short), "%s", short_err.msg);
        b->set.master_short = b->master_short;
    }
    if (!interrupted && frames == 0) {
        r = fm_error_set(err, FM_EFORMAT, "'%s' has no decodable video frames", b->in_path);
        goto end;
    }
    *fp_done = 1;
    /* the master's decoder (its threads and pictures) is not needed for the read-back */
    fm_reader_close(&reader);
    for (size_t i = 0; i < n && !interrupted; i++) {
        r = deliverable_complete(&ds[i], info, content, err);
        if (r == FM_ECRYPTO && b->count > 1) {
            /* one recipient's deliverable fails its check: the others go on */
            fprintf(stderr, "wmembed: %s\n", err->msg);
            b->failed++;
            fm_writer_close(&ds[i].writer);
            continue;
        }
        if (r < 0)
            goto end;
    }
    /* publication: no signal may cut between the last check and the renames */
    sigset_t block, old;
    catch_signals(&block);
    sigprocmask(SIG_BLOCK, &block, &old);
    for (size_t i = 0; i < n && !interrupted && r >= 0; i++) {
        if (!ds[i].writer)
            continue;
        if ((r = deliverable_publish(&ds[i], err)) < 0)
            break;
        /* the issuance is recorded once both files are in place; if it
         * cannot be, the deliverable is withdrawn: no issue without a record */
        if (b->registry &&
            (r = fm_registry_add_receipt(b->registry, ds[i].receipt_path,
                                         (FmKey *const *)&b->set.key, 1, FM_MARK_FORMAT,
                                         &ds[i].registry_id, err)) < 0) {
            if (strcmp(ds[i].output, "-"))
                unlink(ds[i].output);
            unlink(ds[i].receipt_path);
            break;
        }
        b->written++;
        if (b->json)
            json_array_append_new(b->summary, deliverable_json(&ds[i], info, key_fp));
        else if (!b->quiet)
            print_deliverable(&ds[i], info, key_fp);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r >= 0)
        r = 0;
end:
    pipeline_finish(&pipe, 1, NULL);   /* after a failure: stop the workers */
    if (!b->quiet && !b->json)
        fflush(stdout);
    for (size_t i = 0; i < n; i++)
        deliverable_free(&ds[i]);
    free(ds);
    fm_reader_close(&reader);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, 0, 'k' },
        { "input", required_argument, 0, 'i' },
        { "output", required_argument, 0, 'o' },
        { "title-id", required_argument, 0, 't' },
        { "recipient-id", required_argument, 0, 'r' },
        { "recipients", required_argument, 0, OPT_RECIPIENTS },
        { "batch-size", required_argument, 0, OPT_BATCH },
        { "strength", required_argument, 0, OPT_STRENGTH },
        { "no-fill", no_argument, 0, OPT_NO_FILL },
        { "codec", required_argument, 0, OPT_CODEC },
        { "crf", required_argument, 0, OPT_CRF },
        { "owner", required_argument, 0, OPT_OWNER },
        { "title", required_argument, 0, OPT_TITLE },
        { "recipient", required_argument, 0, OPT_RECIPIENT },
        { "issued", required_argument, 0, OPT_ISSUED },
        { "ai-use", required_argument, 0, OPT_AI_USE },
        { "passphrase-file", required_argument, 0, OPT_PASS_FILE },
        { "registry", required_argument, 0, OPT_REGISTRY },
        { "no-registry", no_argument, 0, OPT_NO_REGISTRY },
        { "allow-short", no_argument, 0, OPT_ALLOW_SHORT },
        { "threads", required_argument, 0, OPT_THREADS },
        { "verify-seconds", required_argument, 0, OPT_VERIFY_SECONDS },
        { "no-verify", no_argument, 0, OPT_NO_VERIFY },
        { "format", required_argument, 0, OPT_FORMAT },
        { "receipt", required_argument, 0, OPT_RECEIPT },
        { "force", no_argument, 0, 'f' },
        { "json", no_argument, 0, OPT_JSON },
        { "quiet", no_argument, 0, 'q' },
        { "version", no_argument, 0, 'V' },
        { "loglevel", required_argument, 0, 'v' },
        { "progress", required_argument, 0, 'P' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *key_path = NULL, *in_path = NULL, *out_path = NULL, *list_path = NULL;
    const char *owner = NULL, *title = NULL, *recipient = NULL;
    uint32_t title_id = 0, recipient_id = 0, issued_minutes = 0;
    int have_title = 0, have_recipient = 0, have_issued = 0, force = 0, json = 0, quiet = 0;
    int crf = -1, batch_size = DEFAULT_BATCH, verify = 1;
    double strength = FM_DEFAULT_STRENGTH, verify_seconds = DEFAULT_VERIFY_SECONDS;
    uint8_t ai_use = FM_AI_USE_RESERVED;
    FmCodec codec = FM_CODEC_VP9;
    FmPassSource pass_src = { NULL };
    const char *registry_opt = NULL, *format = NULL, *receipt_opt = NULL;
    int codec_given = 0;
    int use_registry = 1, allow_short = 0, threads = 0, no_fill = 0;
    int c;

    opterr = 0;
    int want_version = 0;
    const char *loglevel = NULL, *progress_path = NULL;
    while ((c = getopt_long(argc, argv, ":k:i:o:t:r:fqhVv:", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'i': in_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 't':
            if (fm_parse_u32(optarg, &title_id) < 0)
                return fail(EXIT_USAGE, "--title-id '%s' is not a number in 0..4294967295%s", optarg, "");
            have_title = 1;
            break;
        case 'r':
            if (fm_parse_u32(optarg, &recipient_id) < 0)
                return fail(EXIT_USAGE, "--recipient-id '%s' is not a number in 0..4294967295%s", optarg, "");
            have_recipient = 1;
            break;
        case OPT_RECIPIENTS: list_path = optarg; break;
        case OPT_BATCH:
            if (fm_parse_int(optarg, 1, 64, &batch_size) < 0)
                return fail(EXIT_USAGE, "--batch-size '%s' is not a number in 1..64%s", optarg, "");
            break;
        case OPT_STRENGTH:
            if (fm_parse_double(optarg, &strength) < 0 || strength > 10)
                return fail(EXIT_USAGE, "--strength '%s' is not a number in (0, 10]%s", optarg, "");
            break;
        case OPT_CODEC:
            if (fm_codec_from_name(optarg, &codec) < 0)
                return fail(EXIT_USAGE, "--codec '%s' is not one of vp9, h264, ffv1, raw%s", optarg, "");
            codec_given = 1;
            break;
        case OPT_FORMAT:
            if (!fm_format_muxer(optarg))
                return fail(EXIT_USAGE, "--format '%s' is not a video container FFmpeg writes "
                            "(y4m, mkv, webm, mp4, mov, nut)%s", optarg, "");
            format = optarg;
            break;
        case OPT_RECEIPT: receipt_opt = optarg; break;
        case OPT_AI_USE:
            if (fm_ai_use_from_name(optarg, &ai_use) < 0)
                return fail(EXIT_USAGE, "--ai-use '%s' is not one of reserved, allowed, attribution,"
                            " noncommercial%s", optarg, "");
            break;
        case OPT_CRF:
            if (fm_parse_int(optarg, 0, 63, &crf) < 0)
                return fail(EXIT_USAGE, "--crf '%s' is not a number in 0..63%s", optarg, "");
            break;
        case OPT_VERIFY_SECONDS:
            if (strcmp(optarg, "0") != 0 && fm_parse_double(optarg, &verify_seconds) < 0)
                return fail(EXIT_USAGE, "--verify-seconds '%s' is not a number of seconds%s",
                            optarg, "");
            if (!strcmp(optarg, "0"))
                verify_seconds = 0;
            break;
        case OPT_NO_VERIFY: verify = 0; break;
        case OPT_NO_FILL: no_fill = 1; break;
        case OPT_PASS_FILE: pass_src.file = optarg; break;
        case OPT_REGISTRY: registry_opt = optarg; break;
        case OPT_NO_REGISTRY: use_registry = 0; break;
        case OPT_ALLOW_SHORT: allow_short = 1; break;
        case OPT_THREADS:
            if (fm_parse_int(optarg, 1, 256, &threads) < 0)
                return fail(EXIT_USAGE, "--threads '%s' is not a number in 1..256%s", optarg, "");
            break;
        case OPT_OWNER: owner = optarg; break;
        case OPT_TITLE: title = optarg; break;
        case OPT_RECIPIENT: recipient = optarg; break;
        case OPT_ISSUED:
            if (fm_iso8601_to_minutes(optarg, &issued_minutes) < 0)
                return fail(EXIT_USAGE, "--issued '%s' is not a time YYYY-MM-DDTHH:MMZ (or +HH:MM) from "
                            "1970-01-01T00:00Z to 10136-02-16T04:15Z, or 'now'%s", optarg, "");
            have_issued = 1;
            break;
        case 'f': force = 1; break;
        case OPT_JSON: json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': want_version = 1; break;
        case 'v': loglevel = optarg; break;
        case 'P': progress_path = optarg; break;
        default: {
            char msg[300];
            return fail(EXIT_USAGE, "%s%s", fm_option_error(opts, argv, c, msg, sizeof(msg)), "");
        }
        }
    }
    if (want_version) {
        fm_print_version(stdout, "wmembed", json);
        return 0;
    }
    int out_stream = out_path && !strcmp(out_path, "-");
    int in_stream = !strcmp(in_path ? in_path : "", "-");
    report = out_stream ? stderr : stdout;
    json_errors = json;
    if (optind < argc)
        return fail(EXIT_USAGE, "unexpected argument '%s' (see --help)%s", argv[optind], "");
    if (!key_path || !in_path)
        return fail(EXIT_USAGE, "-k and -i are required (see --help)%s%s", "", "");
    if (list_path && (out_path || have_recipient || recipient))
        return fail(EXIT_USAGE, "--recipients replaces -o, --recipient-id and --recipient "
                    "(see --help)%s%s", "", "");
    if (!list_path && !out_path)
        return fail(EXIT_USAGE, "-o (or --recipients) is required (see --help)%s%s", "", "");
    if (!have_title || (!list_path && !have_recipient))
        return fail(EXIT_USAGE, "--title-id and --recipient-id are required (see --help)%s%s", "", "");
    if (codec == FM_CODEC_H264 && crf > 51)
        return fail(EXIT_USAGE, "--crf for h264 is 0..51%s%s", "", "");
    if (out_stream && !format)
        return fail(EXIT_USAGE, "-o - needs --format (y4m, mkv, webm, mp4, mov, nut)%s%s", "", "");
    if (out_stream && !receipt_opt)
        return fail(EXIT_USAGE, "-o - needs --receipt FILE: the signed receipt cannot go beside "
                    "standard output%s%s", "", "");
    if (receipt_opt && list_path)
        return fail(EXIT_USAGE, "--receipt names one receipt: not with --recipients%s%s", "", "");
    /* y4m holds pictures only: uncompressed is its codec */
    const char *muxer = fm_format_muxer(format ? format
                                        : out_path && strrchr(out_path, '.')
                                        ? strrchr(out_path, '.') + 1 : NULL);
    int y4m = muxer && !strcmp(muxer, "yuv4mpegpipe");
    if (y4m && !codec_given)
        codec = FM_CODEC_RAW;
    if (y4m != (codec == FM_CODEC_RAW) && !(codec == FM_CODEC_RAW && muxer &&
                                             strcmp(muxer, "webm") && strcmp(muxer, "mp4") &&
                                             strcmp(muxer, "mov")))
        return fail(EXIT_USAGE, "%s%s", y4m ? "y4m holds uncompressed pictures: --codec raw "
                    "(the default there)" : "--codec raw goes into y4m, nut or mkv", "");

    FmError err = { { 0 } };
    FmKey *key = NULL;
    FmFingerprint *content_fp = NULL;
    FmVideoReader *probe = NULL;
    Batch b = { .in_path = in_path, .batch_size = batch_size, .json = json, .quiet = quiet,
                .allow_short = allow_short };
    FmRecipient single = { recipient_id, (char *)(recipient ? recipient : ""), (char *)out_path };
    int ret = EXIT_USAGE, fp_done = 0;
    sigset_t caught;

    /* our one-line messages say what failed; FFmpeg's own logging on request */
    av_log_set_level(getenv("FILMMARK_DEBUG") ? AV_LOG_INFO : AV_LOG_QUIET);
    if (loglevel && fm_set_loglevel(loglevel) < 0)
        return fail(EXIT_USAGE, "--loglevel '%s' is not one of quiet, error, warning, info, "
                    "debug%s", loglevel, "");
    FILE *progress_file = NULL;
    if (progress_path && !(progress_file = !strcmp(progress_path, "-") ? stderr
                                           : fopen(progress_path, "w")))
        return fail(EXIT_USAGE, "cannot write --progress '%s'%s", progress_path, "");
    catch_signals(&caught);
    if (fm_init(&err) < 0)
        return fail(EXIT_USAGE, "%s%s", err.msg, "");
    if (in_stream && isatty(STDIN_FILENO))
        return fail(EXIT_USAGE, "-i -: standard input is a terminal, not a video stream%s%s",
                    "", "");
    if (!in_stream && access(in_path, F_OK) != 0)
        return fail(EXIT_USAGE, "cannot open '%s': No such file or directory%s", in_path, "");
    /* the master is read more than once (video, its audio, each batch pass):
     * standard input is the one stream we read once, and only its video */
    struct stat in_st;
    if (!in_stream && stat(in_path, &in_st) == 0 && !S_ISREG(in_st.st_mode))
        return fail(EXIT_USAGE, "'%s' is not a regular file: the master is read more than "
                    "once (a pipe or FIFO cannot be; use -i - for standard input)%s", in_path, "");
    if (list_path) {
        if (fm_recipients_read(list_path, &b.list, &b.count, &err) < 0)
            return fail(EXIT_USAGE, "%s: %s", list_path, err.msg);
    } else {
        b.list = &single;
        b.count = 1;
    }
    if (in_stream && b.count > (size_t)batch_size) {
        fm_error_set(&err, FM_EINVAL, "-i - is read once: %zu recipients need --batch-size %zu "
                     "or more", b.count, b.count);
        goto fail_err;
    }
    for (size_t i = 0; i < b.count; i++) {
        if (list_path && !strcmp(b.list[i].output, "-")) {
            fm_error_set(&err, FM_EINVAL, "%s: output '-': one recipient goes to standard "
                         "output, with -o -", list_path);
            goto fail_err;
        }
        if (check_output(in_path, b.list[i].output, receipt_opt, force, &err) < 0 ||
            check_name("recipient", b.list[i].name, &err) < 0)
            goto fail_err;
    }
    if (check_name("--owner", owner, &err) < 0 || check_name("--title", title, &err) < 0)
        goto fail_err;

    if (!(key = fm_key_new())) {
        fm_error_set(&err, FM_ENOMEM, "out of secure memory");
        goto fail_err;
    }
    if (fm_key_load_with(key, key_path, FM_KEY_SECRET, fm_pass_get, &pass_src, &err) < 0)
        goto fail_err;
    /* the registry must open (created on first use) before any work */
    char registry_loc[FM_REGISTRY_LOCATION_MAX] = "";
    if (use_registry && (fm_registry_location(registry_opt, registry_loc, sizeof(registry_loc),
                                              &err) < 0 ||
                         fm_registry_open(&b.registry, registry_loc, &err) < 0))
        goto fail_err;
    /* the master must open before anything is created; the first pass
     * decodes from this opening (standard input has no second one) */
    if (fm_reader_open(&probe, in_path, &err) < 0)
        goto fail_err;
    const FmVideoInfo *in_info = fm_reader_info(probe);
    long nb_frames = in_info->nb_frames;
    if (in_stream && in_info->nb_other_streams > 0)
        fprintf(stderr, "wmembed: the master comes from standard input: its %d other "
                "stream%s (audio, subtitles...) %s not carried (give a file to keep them)\n",
                in_info->nb_other_streams, in_info->nb_other_streams == 1 ? "" : "s",
                in_info->nb_other_streams == 1 ? "is" : "are");
    else if (y4m && in_info->nb_other_streams > 0)
        fprintf(stderr, "wmembed: y4m carries video only: the master's %d other stream%s "
                "(audio, subtitles...) %s not in the output\n", in_info->nb_other_streams,
                in_info->nb_other_streams == 1 ? "" : "s",
                in_info->nb_other_streams == 1 ? "is" : "are");
    b.opened = probe;
    probe = NULL;

    b.payload = (FmPayload){
        .version = FM_PAYLOAD_VERSION,
        .title_id = title_id,
        .issued_minutes = have_issued ? issued_minutes : (uint32_t)(time(NULL) / 60),
        .ai_use = ai_use,
    };
    b.set = (DeliverableSettings){
        .key = key,
        .writer = { .codec = codec, .crf = crf, .threads = 0,
                    .audio_from = in_stream || y4m ? NULL : in_path, .format = format },
        .receipt_path = receipt_opt,
        .strength = strength, .no_fill = no_fill, .verify = verify,
        .verify_seconds = verify_seconds,
        .threads = threads,
        .owner = owner, .title = title,
    };
    if (!(b.summary = json_array()))
        goto fail_nomem;
    /* the marked pictures' content fingerprint, signed into the receipt so
     * that wmdetect --receipt can tell the title's pictures from a transplant */
    if (fm_fingerprint_new(&content_fp, FM_FP_REFERENCE, &err) < 0)
        goto fail_err;

    char key_fp[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(key, key_fp);
    size_t passes = (b.count + batch_size - 1) / batch_size;
    FmProgress prog;
    fm_progress_init(&prog, stderr, nb_frames > 0 ? nb_frames * (long)passes : 0, quiet);
    fm_progress_machine(&prog, progress_file);
    long progress_frames = 0;
    double t0 = fm_now();
    for (size_t first = 0; first < b.count && !interrupted; first += batch_size) {
        size_t n = b.count - first < (size_t)batch_size ? b.count - first : (size_t)batch_size;
        if (run_pass(&b, first, n, content_fp, &fp_done, &prog, &progress_frames, key_fp,
                     &err) < 0) {
            fm_progress_end(&prog);
            goto fail_err;
        }
    }
    fm_progress_end_frames(&prog, progress_frames);
    double elapsed = fm_now() - t0;
    /* a signal after the last publication is too late to undo anything */
    if (interrupted && b.written + b.failed < b.count) {
        if (out_stream)     /* what went out cannot be taken back */
            fm_error_set(&err, FM_EIO, "interrupted (signal %d): the stream on standard output "
                         "is incomplete; no receipt written", (int)interrupted);
        else
            fm_error_set(&err, FM_EIO, "interrupted (signal %d); %zu of %zu deliverables "
                         "written, no partial output left", (int)interrupted, b.written,
                         b.count);
        goto fail_err;
    }

    if (json) {
        json_t *o;
        if (!list_path) {
            o = json_incref(json_array_get(b.summary, 0));
            json_object_set_new(o, "input", json_string(in_path));
        } else {
            o = json_pack("{s:s, s:I, s:I, s:I, s:O}", "input", in_path,
                          "recipients", (json_int_t)b.count, "written", (json_int_t)b.written,
                          "decode_passes", (json_int_t)passes, "deliverables", b.summary);
        }
        json_object_set_new(o, "registry", use_registry ? json_string(registry_loc) : json_null());
        json_object_set_new(o, "schema", json_string("filmmark-embed-1"));
        json_object_set_new(o, "version", json_string(FM_VERSION));
        json_object_set_new(o, "mark_format", json_integer(FM_MARK_FORMAT));
        json_object_set_new(o, "codec", json_string(fm_codec_name(codec)));
        json_object_set_new(o, "strength", json_real(strength));
        json_object_set_new(o, "fill", json_boolean(!no_fill));
        json_object_set_new(o, "seconds", json_real(elapsed));
        json_object_set_new(o, "fps", json_real(progress_frames / (elapsed > 0 ? elapsed : 1)));
        json_dumpf(o, report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', report);
        json_decref(o);
    } else if (!quiet) {
        fprintf(report, "%zu deliverable%s in %.1f s (%zu decode pass%s of the master)\n", b.written,
               b.written == 1 ? "" : "s", elapsed, passes, passes == 1 ? "" : "es");
    }
    if (b.failed) {
        fm_error_set(&err, FM_ECRYPTO, "%zu of %zu deliverables failed their self-check and "
                     "were not written", b.failed, b.count);
        goto fail_err;
    }
    ret = 0;
    goto end;

fail_nomem:
    fm_error_set(&err, FM_ENOMEM, "out of memory");
fail_err:
    ret = fail(EXIT_USAGE, "%s%s", err.msg, "");
end:
    fm_reader_close(&b.opened);
    fm_registry_close(&b.registry);
    if (progress_file && progress_file != stderr)
        fclose(progress_file);
    json_decref(b.summary);
    fm_fingerprint_free(&content_fp);
    fm_key_free(&key);
    if (list_path)
        fm_recipients_free(&b.list, b.count);
    return ret;
}
