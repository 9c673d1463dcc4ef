/*
 * wmembed - stamps a signed, invisible watermark into a video deliverable.
 */
#include <getopt.h>
#include <signal.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libavutil/log.h>

#include "embedder.h"
#include "fingerprint.h"
#include "keys.h"
#include "pattern.h"
#include "payload.h"
#include "quality.h"
#include "receipt.h"
#include "tool_util.h"
#include "video_io.h"

#define EXIT_USAGE 2

/* Set by SIGINT/SIGTERM/SIGHUP: the frame loop stops and the partial output is removed. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: wmembed -k KEY.key -i MASTER -o DELIVERABLE --title-id N --recipient-id N\n"
        "               [--strength S] [--codec vp9|h264|ffv1] [--crf N]\n"
        "               [--owner NAME] [--title NAME] [--recipient NAME]\n"
        "               [--issued TIME] [--ai-use POLICY] [--threads N] [--force]\n"
        "               [--json] [--quiet]\n"
        "\n"
        "Embeds the signed payload (title id, recipient id, issue time, AI-use policy)\n"
        "invisibly in"
        " every frame of MASTER and encodes DELIVERABLE (VP9/WebM by default). Writes a\n"
        "signed receipt to DELIVERABLE.receipt.json. The master is never modified.\n"
        "\n"
        "  -k, --key FILE        secret key made by wmkeygen (mode 0600)\n"
        "  -i, --input FILE      master video (anything FFmpeg reads)\n"
        "  -o, --output FILE     deliverable to write (.webm, .mkv, .mp4, .mov)\n"
        "      --title-id N      title id, 0..4294967295\n"
        "      --recipient-id N  recipient id, 0..4294967295 (0 = general release)\n"
        "      --strength S      mark amplitude, default 1.0 (~45 dB luma PSNR)\n"
        "      --codec C         vp9 (default), h264 or ffv1 (lossless)\n"
        "      --crf N           quality, 0..63 (default: vp9 24, h264 18)\n"
        "      --owner, --title, --recipient NAME  names recorded in the receipt\n"
        "      --issued TIME     issue time to sign instead of now: UTC, to the minute,\n"
        "                        YYYY-MM-DDTHH:MMZ (or :SSZ, seconds dropped) or 'now'\n"
        "      --ai-use POLICY   the rights holder's AI training/mining policy, signed\n"
        "                        into the mark: reserved (default, the cautious\n"
        "                        choice), allowed, attribution or noncommercial\n"
        "      --threads N       threads marking each frame, 1..256 (default: all cores;\n"
        "                        the output is the same whatever N)\n"
        "      --force           overwrite DELIVERABLE and its receipt\n"
        "      --json            print a JSON summary on stdout\n"
        "  -q, --quiet           no progress or summary text\n"
        "  -h, --help            this help\n");
}

static int fail(int code, const char *fmt, const char *a, const char *b)
{
    fputs("wmembed: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return code;
}

enum { OPT_TITLE_ID = 256, OPT_RECIPIENT_ID, OPT_STRENGTH, OPT_CODEC, OPT_CRF, OPT_OWNER,
       OPT_TITLE, OPT_RECIPIENT, OPT_ISSUED, OPT_AI_USE, OPT_FORCE, OPT_JSON, OPT_THREADS };

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, 0, 'k' },
        { "input", required_argument, 0, 'i' },
        { "output", required_argument, 0, 'o' },
        { "title-id", required_argument, 0, OPT_TITLE_ID },
        { "recipient-id", required_argument, 0, OPT_RECIPIENT_ID },
        { "strength", required_argument, 0, OPT_STRENGTH },
        { "codec", required_argument, 0, OPT_CODEC },
        { "crf", required_argument, 0, OPT_CRF },
        { "owner", required_argument, 0, OPT_OWNER },
        { "title", required_argument, 0, OPT_TITLE },
        { "recipient", required_argument, 0, OPT_RECIPIENT },
        { "issued", required_argument, 0, OPT_ISSUED },
        { "ai-use", required_argument, 0, OPT_AI_USE },
        { "threads", required_argument, 0, OPT_THREADS },
        { "force", no_argument, 0, OPT_FORCE },
        { "json", no_argument, 0, OPT_JSON },
        { "quiet", no_argument, 0, 'q' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *key_path = NULL, *in_path = NULL, *out_path = NULL;
    const char *owner = NULL, *title = NULL, *recipient = NULL;
    uint32_t title_id = 0, recipient_id = 0, issued_minutes = 0;
    int have_title = 0, have_recipient = 0, have_issued = 0, force = 0, json = 0, quiet = 0, crf = -1;
    int threads = 0;
    double strength = FM_DEFAULT_STRENGTH;
    uint8_t ai_use = FM_AI_USE_RESERVED;
    FmCodec codec = FM_CODEC_VP9;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:i:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'i': in_path = optarg; break;
        case 'o': out_path = optarg; break;
        case OPT_TITLE_ID:
            if (fm_parse_u32(optarg, &title_id) < 0)
                return fail(EXIT_USAGE, "--title-id '%s' is not a number in 0..4294967295%s", optarg, "");
            have_title = 1;
            break;
        case OPT_RECIPIENT_ID:
            if (fm_parse_u32(optarg, &recipient_id) < 0)
                return fail(EXIT_USAGE, "--recipient-id '%s' is not a number in 0..4294967295%s", optarg, "");
            have_recipient = 1;
            break;
        case OPT_STRENGTH:
            if (fm_parse_double(optarg, &strength) < 0 || strength > 10)
                return fail(EXIT_USAGE, "--strength '%s' is not a number in (0, 10]%s", optarg, "");
            break;
        case OPT_CODEC:
            if (fm_codec_from_name(optarg, &codec) < 0)
                return fail(EXIT_USAGE, "--codec '%s' is not one of vp9, h264, ffv1%s", optarg, "");
            break;
        case OPT_AI_USE:
            if (fm_ai_use_from_name(optarg, &ai_use) < 0)
                return fail(EXIT_USAGE, "--ai-use '%s' is not one of reserved, allowed, attribution,"
                            " noncommercial%s", optarg, "");
            break;
        case OPT_CRF:
            if (fm_parse_int(optarg, 0, 63, &crf) < 0)
                return fail(EXIT_USAGE, "--crf '%s' is not a number in 0..63%s", optarg, "");
            break;
        case OPT_OWNER: owner = optarg; break;
        case OPT_TITLE: title = optarg; break;
        case OPT_RECIPIENT: recipient = optarg; break;
        case OPT_ISSUED:
            if (fm_iso8601_to_minutes(optarg, &issued_minutes) < 0)
                return fail(EXIT_USAGE, "--issued '%s' is not a UTC time YYYY-MM-DDTHH:MMZ from "
                            "1970-01-01T00:00Z to 10136-02-16T04:15Z, or 'now'%s", optarg, "");
            have_issued = 1;
            break;
        case OPT_THREADS:
            if (fm_parse_int(optarg, 1, 256, &threads) < 0)
                return fail(EXIT_USAGE, "--threads '%s' is not a number in 1..256%s", optarg, "");
            break;
        case OPT_FORCE: force = 1; break;
        case OPT_JSON: json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': return fail(EXIT_USAGE, "option %s needs a value (see --help)%s", argv[optind - 1], "");
        default: return fail(EXIT_USAGE, "unknown option %s (see --help)%s", argv[optind - 1], "");
        }
    }
    if (optind < argc)
        return fail(EXIT_USAGE, "unexpected argument '%s' (see --help)%s", argv[optind], "");
    if (!key_path || !in_path || !out_path)
        return fail(EXIT_USAGE, "-k, -i and -o are required (see --help)%s%s", "", "");
    if (!have_title || !have_recipient)
        return fail(EXIT_USAGE, "--title-id and --recipient-id are required (see --help)%s%s", "", "");
    if (codec == FM_CODEC_H264 && crf > 51)
        return fail(EXIT_USAGE, "--crf for h264 is 0..51%s%s", "", "");

    FmError err = { { 0 } };
    FmKey *key = NULL;
    FmVideoReader *reader = NULL;
    FmVideoWriter *writer = NULL;
    FmEmbedder *emb = NULL;
    FmFingerprint *content_fp = NULL;
    uint8_t message[FM_MESSAGE_BYTES];
    char receipt_path[4096];
    int ret = EXIT_USAGE;

    /* our one-line messages say what failed; FFmpeg's own logging on request */
    av_log_set_level(getenv("FILMMARK_DEBUG") ? AV_LOG_INFO : AV_LOG_QUIET);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (fm_init(&err) < 0)
        return fail(EXIT_USAGE, "%s%s", err.msg, "");
    if (snprintf(receipt_path, sizeof(receipt_path), "%s.receipt.json", out_path) >= (int)sizeof(receipt_path))
        return fail(EXIT_USAGE, "output path too long%s%s", "", "");
    if (access(in_path, F_OK) != 0)
        return fail(EXIT_USAGE, "cannot open '%s': No such file or directory%s", in_path, "");
    if (fm_same_file(in_path, out_path))
        return fail(EXIT_USAGE, "refusing to overwrite the master '%s'%s", in_path, "");
    if (!force && access(out_path, F_OK) == 0)
        return fail(EXIT_USAGE, "'%s' exists; use --force to overwrite%s", out_path, "");
    if (!force && access(receipt_path, F_OK) == 0)
        return fail(EXIT_USAGE, "'%s' exists; use --force to overwrite%s", receipt_path, "");

    if (!(key = fm_key_new()))
        return fail(EXIT_USAGE, "out of secure memory%s%s", "", "");
    if (fm_key_load(key, key_path, FM_KEY_SECRET, &err) < 0)
        goto fail_err;

    if (fm_reader_open(&reader, in_path, &err) < 0)
        goto fail_err;
    const FmVideoInfo *info = fm_reader_info(reader);

    FmPayload payload = {
        .version = FM_PAYLOAD_VERSION,
        .title_id = title_id,
        .recipient_id = recipient_id,
        .issued_minutes = have_issued ? issued_minutes : (uint32_t)(time(NULL) / 60),
        .ai_use = ai_use,
    };
    if (fm_payload_sign(&payload, key, message, &err) < 0)
        goto fail_err;
    if (fm_embedder_new(&emb, key->wm_key, message, info->width, info->height, strength, &err) < 0)
        goto fail_err;
    if (threads && fm_embedder_set_threads(emb, threads) < 0) {
        fm_error_set(&err, FM_ENOMEM, "out of memory starting %d threads", threads);
        goto fail_err;
    }

    /* the marked pictures' content fingerprint, signed into the receipt so
     * that wmdetect --receipt can tell the title's pictures from a transplant */
    if (fm_fingerprint_new(&content_fp, FM_FP_REFERENCE, &err) < 0)
        goto fail_err;

    FmWriterOptions wopt = { .codec = codec, .crf = crf, .threads = 0, .audio_from = in_path };
    if (fm_writer_open(&writer, out_path, info, &wopt, &err) < 0)
        goto fail_err;

    FmProgress prog;
    fm_progress_init(&prog, stderr, info->nb_frames, quiet);
    double t0 = fm_now(), mse_sum = 0, ssim_sum = 0, worst_psnr = 100;
    double tb = av_q2d(info->time_base), t_origin = NAN;
    long frames = 0, last_epoch = -1;
    AVFrame *frame;
    int r;
    while ((r = fm_reader_next(reader, &frame, &err)) > 0) {
        FmFrameQuality q;
        if (interrupted) {
            fm_error_set(&err, FM_EIO, "interrupted (signal %d); no output written", (int)interrupted);
            goto fail_err;
        }
        /* master time from its first frame: it picks the epoch's pattern */
        double t = frame->pts != AV_NOPTS_VALUE ? frame->pts * tb
                   : frames * (info->frame_rate.num ? av_q2d(av_inv_q(info->frame_rate)) : 1 / 24.0);
        if (isnan(t_origin))
            t_origin = t;
        /* a keyframe where the pattern changes (video_io.h) */
        if ((long)fm_epoch_at(t - t_origin) != last_epoch) {
            last_epoch = (long)fm_epoch_at(t - t_origin);
            fm_writer_force_keyframe(writer);
        }
        if (fm_embedder_mark(emb, frame->data[0], frame->linesize[0], info->bit_depth,
                             t - t_origin, &q, &err) < 0 ||
            fm_fingerprint_add(content_fp, frame->data[0], frame->linesize[0], info->bit_depth,
                               info->width, info->height, t - t_origin, &err) < 0 ||
            fm_writer_write(writer, frame, &err) < 0)
            goto fail_err;
        mse_sum += q.mse;
        ssim_sum += q.ssim;
        if (fm_psnr_from_mse(q.mse) < worst_psnr)
            worst_psnr = fm_psnr_from_mse(q.mse);
        frames++;
        fm_progress_update(&prog, frames, "embedding");
    }
    fm_progress_end(&prog);
    if (r < 0)
        goto fail_err;
    if (frames == 0) {
        fm_error_set(&err, FM_EFORMAT, "'%s' has no decodable video frames", in_path);
        goto fail_err;
    }
    if (interrupted) {
        fm_error_set(&err, FM_EIO, "interrupted (signal %d); no output written", (int)interrupted);
        goto fail_err;
    }
    if (fm_writer_finish(writer, &err) < 0)
        goto fail_err;
    double elapsed = fm_now() - t0;

    char sha[65];
    if (fm_sha256_file(out_path, sha, &err) < 0)
        goto fail_err;
    double psnr = fm_psnr_from_mse(mse_sum / frames), ssim = ssim_sum / frames;
    char *out_copy = strdup(out_path), *fp_text = NULL;
    if (fm_fingerprint_to_string(content_fp, &fp_text, &err) < 0) {
        free(out_copy);
        goto fail_err;
    }
    FmReceiptInfo rinfo = {
        .owner = owner, .title = title, .recipient = recipient,
        .output_name = out_copy ? basename(out_copy) : out_path,
        .output_sha256 = sha, .codec = fm_codec_name(codec),
        .crf = crf, .strength = strength, .frames = frames,
        .width = info->width, .height = info->height, .psnr_y = psnr, .ssim_y = ssim,
        .content_fingerprint = fp_text,
    };
    r = fm_receipt_write(receipt_path, key, &payload, message, &rinfo, 1, &err);
    free(out_copy);
    free(fp_text);
    if (r < 0)
        goto fail_err;

    char issued[32], sig_hex[2 * FM_SIGNATURE_BYTES + 1], fp[FM_FINGERPRINT_CHARS + 1];
    fm_minutes_to_iso8601(payload.issued_minutes, issued, sizeof(issued));
    fm_hex(message + FM_PAYLOAD_BYTES, FM_SIGNATURE_BYTES, sig_hex);
    fm_key_fingerprint(key, fp);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:{s:i, s:I, s:I, s:s, s:s}, s:s, s:s, s:s, s:s, s:s,"
                              " s:I, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:f}",
            "input", in_path, "output", out_path,
            "payload", "version", payload.version, "title_id", (json_int_t)title_id,
                       "recipient_id", (json_int_t)recipient_id, "issued", issued,
                       "ai_use", fm_ai_use_name(ai_use),
            "signature", sig_hex, "key_fingerprint", fp, "output_sha256", sha,
            "receipt", receipt_path, "codec", fm_codec_name(codec),
            "frames", (json_int_t)frames, "width", info->width, "height", info->height,
            "luma_psnr_db", psnr, "luma_psnr_worst_frame_db", worst_psnr, "luma_ssim", ssim,
            "strength", strength, "seconds", elapsed, "fps", frames / (elapsed > 0 ? elapsed : 1));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
    } else if (!quiet) {
        printf("%s: marked %ld frames (%dx%d) in %.1f s (%.1f fps)\n", out_path, frames,
               info->width, info->height, elapsed, frames / (elapsed > 0 ? elapsed : 1));
        printf("  payload:   title %u, recipient %u, issued %s, AI training %s\n", title_id,
               recipient_id, issued, fm_ai_use_name(ai_use));
        printf("  key:       %s\n", fp);
        printf("  quality:   luma PSNR %.2f dB (worst frame %.2f dB), SSIM %.4f\n", psnr,
               worst_psnr, ssim);
        printf("  sha256:    %s\n", sha);
        printf("  receipt:   %s\n", receipt_path);
    }
    ret = 0;
    goto end;

fail_err:
    fprintf(stderr, "wmembed: %s\n", err.msg);
    ret = EXIT_USAGE;
end:
    fm_writer_close(&writer);   /* removes the partial output unless finished */
    fm_embedder_free(&emb);
    fm_fingerprint_free(&content_fp);
    fm_reader_close(&reader);
    fm_key_free(&key);
    sodium_memzero(message, sizeof(message));
    return ret;
}
