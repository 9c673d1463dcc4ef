/*
 * wmdetect - finds a filmmark watermark in a clip and verifies its signature.
 *
 * Exit status: 0 found and the signature verifies; 1 no watermark;
 * 3 a watermark is present but its payload/signature does not verify; 2 error.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libavutil/log.h>
#include <libavutil/parseutils.h>

#include "accumulator.h"
#include "clip_frames.h"
#include "detector.h"
#include "fingerprint.h"
#include "frame.h"
#include "identify.h"
#include "place.h"
#include "scan.h"
#include "keys.h"
#include "payload.h"
#include "pilot_tables.h"
#include "receipt.h"
#include "report.h"
#include "tool_util.h"
#include "video_io.h"
#include "content_tag.h"
#include "version.h"

enum { EXIT_FOUND = 0, EXIT_NONE = 1, EXIT_ERROR = 2, EXIT_UNVERIFIED = 3, EXIT_MISMATCH = 4 };

/* The clip's content against the issued title's fingerprint (a receipt's). */
typedef struct ContentCheck {
    int checked;          /* a receipt with a fingerprint was given */
    FmFpMatch m;
    double clip_aspect;   /* the clip's width / height */
    double issued_aspect; /* the issued picture's, from its receipt (0: unknown) */
    double clip_t0;       /* clip time of the detector's first window */
    double clip_from, clip_to;  /* the clip's span compared, seconds */
    /* the pictures are the issued title's, but of another part of it than
     * the mark says (content_elsewhere): a mark moved within the title, or
     * pasted on a shot that goes on past the marked part */
    int elsewhere;
    double mark_at;       /* master seconds where the mark places the clip's first window */
    int from_registry;    /* the fingerprint is the registry row's (else a receipt's) */
    /* the issued picture fingerprinted where the mark's geometry places it
     * (place.h: inside a larger frame, or an off-centre crop): cc->m is that
     * place's match */
    int placed;
    FmPicturePlace place;
    int places;           /* places tried */
    double extra_log10;   /* log10 of them: hypotheses beyond the fingerprint's own */
} ContentCheck;

static const char *verdict_name(const ContentCheck *cc)
{
    return !cc->checked ? "unknown" : cc->elsewhere ? "match_elsewhere"
           : cc->m.verdict == FM_FP_MATCH ? "match"
           : cc->m.verdict == FM_FP_TOO_SHORT ? "too_short" : "no_match";
}

/*
 * Seconds the content fingerprint's alignment may lie from where the mark
 * places the clip: the mark's position is read to a window (0.5 s), the
 * fingerprint's to a quarter second over 1-s windows, and a retimed clip
 * drifts a little; one epoch covers the three.
 */
#define POSITION_TOLERANCE FM_EPOCH_SECONDS

/*
 * A match at the mark's place vouches for a clip whose best alignment over
 * the whole title lies elsewhere only if it holds at least this share of
 * that alignment's evidence (log10 p, both corrected for their own
 * hypotheses). A still shot's seconds tie along the shot, and the place
 * given, with fewer hypotheses, scores at least as well. But a window of a
 * few seconds searched on its own can hold a chance alignment: a mark of
 * the first 4 s of a 10-s dune pan pasted on its pictures 3, 3.5 and 4 s
 * later (by hand) matched within the tolerance of the mark's place at
 * 10^-8.4 to 10^-8.7 while the clip's own place scored 10^-16 to 10^-18,
 * and 0.7.2 vouched for all three; a move of 2.5 s (place 2.75 s from the
 * mark's) matched near it at 10^-14.5 of 10^-17.7. And the fingerprint's
 * statistic is biased one window beside a true alignment (tests/
 * test_fingerprint.c: 10^-20 with half the bits agreeing).
 */
#define NEAR_EVIDENCE_SHARE 0.75

/* Whether a match's alignment puts the clip's time clip_t0 within
 * POSITION_TOLERANCE of master time at, modulo the epochs' cycle. */
static int aligned_near(const FmFpMatch *m, double clip_t0, double at)
{
    double cycle = FM_EPOCHS * FM_EPOCH_SECONDS;
    double d = fmod(fabs(m->offset + m->speed * clip_t0 - at), cycle);
    return (d < cycle - d ? d : cycle - d) <= POSITION_TOLERANCE;
}

/*
 * Where the mark places the clip (master seconds at clip time clip_t0), or
 * NAN when that is not known: a verified mark's epochs, or the epochs under
 * which the recipient was named from the issued messages (the epoch
 * search's best hypothesis or a runner-up, with the key the blind result is
 * for; not a stretch scored alone): each epoch's slots are scrambled with
 * its own key, so a codeword read under wrong epochs correlates with
 * nothing, and a significant naming dates the clip as well as a signature.
 */
static double mark_position(const FmDetectResult *r, const Identification *id, int best_key)
{
    if (r->found && r->signature_valid)
        return isfinite(r->master_position) ? r->master_position : NAN;
    if (!r->signature_valid && identify_named_count(id) && id->scored && id->key == best_key)
        return id->named_position;
    return NAN;
}

/*
 * Marks cc->elsewhere when the fingerprint matched the issued title only at
 * a master time more than POSITION_TOLERANCE from where the mark places the
 * clip (at, from mark_position()). The best alignment over the whole title
 * can lie elsewhere for a legit clip of a still shot (its seconds tie along
 * the shot), so the clip is compared once more at the alignments within
 * the tolerance of the mark's place alone (and of that place plus whole
 * epoch cycles, for titles longer than one): a match there vouches if it
 * holds NEAR_EVIDENCE_SHARE of the best alignment's evidence.
 * issued: the fingerprint cc->m came from.
 */
static int check_position(ContentCheck *cc, double at, const FmFingerprint *issued,
                          const FmFingerprint *clip, FmError *err)
{
    cc->elsewhere = 0;
    if (!cc->checked || cc->m.verdict != FM_FP_MATCH || !isfinite(at))
        return 0;
    cc->mark_at = at;
    if (aligned_near(&cc->m, cc->clip_t0, at))
        return 0;
    double cycle = FM_EPOCHS * FM_EPOCH_SECONDS;
    for (int k = 0; k < 4; k++) {
        /* offsets: master time at clip time 0 (retimings change the
         * clip_t0 term by less than the tolerance's slack) */
        double o = at + k * cycle - cc->clip_t0;
        FmFpMatch near;
        if (fm_fingerprint_compare_near(issued, clip, cc->clip_from, cc->clip_to,
                                        o - POSITION_TOLERANCE, o + POSITION_TOLERANCE, &near,
                                        err) < 0)
            return -1;
        fm_fp_match_add_hypotheses(&near, cc->extra_log10);
        if (near.verdict == FM_FP_MATCH && aligned_near(&near, cc->clip_t0, at) &&
            near.log10_p <= NEAR_EVIDENCE_SHARE * cc->m.log10_p) {
            cc->m = near;
            return 0;
        }
    }
    cc->elsewhere = 1;
    return 0;
}

/*
 * The whole frames did not match the issued title's fingerprint, but the
 * mark's geometry places the issued picture where the whole-frame
 * fingerprint cannot see it: shrunk inside the frame (picture in picture, a
 * boxed or vertical re-post) or cropped off the centre. The clip's span is
 * read again and each place the picture can lie at is fingerprinted on its
 * own (place.h; the places count as hypotheses). A match there replaces
 * cc->m, checked against the mark's place as a whole-frame match is.
 */
static int check_places(ContentCheck *cc, const FmDetectResult *r, const FmFingerprint *issued,
                        const char *clip_file, const FmVideoInfo *info, double start,
                        double duration, double at, FmError *err)
{
    if (!cc->checked || cc->m.verdict != FM_FP_NO_MATCH || !issued)
        return 0;
    FmPlaces *pl = NULL;
    int n = fm_places_new(&pl, &r->geometry, info->width, info->height, cc->issued_aspect, err);
    if (n <= 0)
        return n;
    FmFpMatch m;
    int idx = -1;
    int ret = fm_places_read(pl, clip_file, start, duration, cc->clip_from, cc->clip_to, err);
    if (ret < 0) {
        /* the clip was read once: the verdict stands without this check */
        fprintf(stderr, "wmdetect: warning: the picture's place was not checked: %s\n",
                err->msg);
        fm_places_free(&pl);
        return 0;
    }
    ret = fm_places_compare(pl, issued, cc->clip_from, cc->clip_to, &m, &idx, err);
    if (ret == 0 && m.verdict == FM_FP_MATCH) {
        cc->m = m;
        cc->placed = 1;
        cc->place = fm_places_place(pl, idx);
        cc->places = n;
        cc->extra_log10 = fm_places_log10_count(pl);
        ret = check_position(cc, at, issued, fm_places_fingerprint(pl, idx), err);
    }
    fm_places_free(&pl);
    return ret;
}

/* The fingerprint vouches for the pictures: the issued title's, where the
 * mark says. */
static int content_matches(const ContentCheck *cc)
{
    return cc->checked && cc->m.verdict == FM_FP_MATCH && !cc->elsewhere;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: wmdetect [-k KEY.dkey] [--receipt FILE] [--registry LOC | --no-registry]\n"
        "                [--start S] [--duration D] [--threads N] [--intra-weight W]\n"
        "                [--report FILE.html] [--json] [--quiet] CLIP|-\n"
        "       wmdetect [-k KEY.dkey] --scan DIR|- [--threads N] [--intra-weight W]\n"
        "                [--json] [--quiet]\n"
        "\n"
        "Looks for a filmmark watermark in CLIP (anything FFmpeg reads) and verifies\n"
        "the signed payload. Needs neither the original nor the start of the video.\n"
        "Without -k, tries every .dkey/.key file in $FILMMARK_KEYS, else in\n"
        "~/.config/filmmark/keys/ (unusable ones are skipped with a warning).\n"
        "\n"
        "  -k, --key FILE       detection key (.dkey) or secret key (.key)\n"
        "      --receipt FILE   also correlate against the message of this receipt\n"
        "                       (informed detection; reports bit errors against it),\n"
        "                       and compare the clip's pictures with the content\n"
        "                       fingerprint it records (content match)\n"
        "      --start T        skip the first T of CLIP (seconds or [HH:]MM:SS[.m])\n"
        "      --duration T     read at most T of it (default: the first 300 s)\n"
        "      --registry LOC   name the recipient among the messages this registry\n"
        "                       of issued marks records (SQLite file or\n"
        "                       postgresql://...; default $FILMMARK_REGISTRY, else\n"
        "                       ~/.local/share/filmmark/registry.sqlite, when present)\n"
        "      --no-registry    consult no registry\n"
        "      --report FILE    also write an evidence report: one self-contained\n"
        "                       HTML file (see docs/example-report.html)\n"
        "      --scan DIR       scan every file under DIR (recursive; - reads a list\n"
        "                       of paths from stdin): images and clips, every key,\n"
        "                       one line per hit and per unreadable file, then a\n"
        "                       summary per key and title with the combined evidence\n"
        "      --threads N      threads reading each frame, 1..256 (default: all\n"
        "                       cores; the result is the same whatever N); with\n"
        "                       --scan, files read at a time\n"
        "      --intra-weight W a frame the codec coded on its own (an I frame)\n"
        "                       counts W times against a predicted one, 1..1000\n"
        "                       (default 40; 1: every frame alike)\n"
        "      --json           print one JSON object on stdout (--scan: one JSON\n"
        "                       line per hit, per unreadable file and the summary)\n"
        "  -q, --quiet          no progress, only the exit status and --json output\n"
        "      --progress FILE  key=value progress blocks for farm logs (- = stderr)\n"
        "  -v, --loglevel L     FFmpeg's own messages: quiet (default), error, warning,\n"
        "                       info, debug\n"
        "  -V, --version        the version and the mark format it reads\n"
        "  -h, --help           this help\n"
        "\n"
        "exit status: 0 found, signature valid and the mark bound to these pictures;\n"
        "1 no watermark; 3 watermark present but payload/signature does not verify, or\n"
        "its binding to these pictures cannot be confirmed (too short, too weak); 4\n"
        "signature valid but the mark carries another picture's tag, or the content\n"
        "does not match the receipt's title (transplanted?); 2 error\n");
}

/* A key file of the directory that could not be used: said, then skipped. */
static void warn_key(void *ctx, const char *path, const char *reason)
{
    (void)ctx;
    (void)path;
    fprintf(stderr, "wmdetect: skipped key: %s\n", reason);
}

/* What was analysed, when and by what: the head of every report. */
typedef struct Provenance {
    char sha256[65];
    char analysed[32];          /* UTC */
    char *command;              /* the command line, shell-quoted where needed */
    double read_limit;          /* > 0: the default limit ended the read there (seconds
                                   from the start read), before the clip's end */
    double intra_weight;        /* --intra-weight */
} Provenance;

static char *command_line(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += 3 + 4 * strlen(argv[i]);
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        int plain = *argv[i] != 0;
        for (const char *c = argv[i]; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%",
                        *c))
                plain = 0;
        if (i)
            *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", argv[i]);
            continue;
        }
        *p++ = '\'';
        for (const char *c = argv[i]; *c; c++)
            p += *c == '\'' ? sprintf(p, "'\\''") : sprintf(p, "%c", *c);
        *p++ = '\'';
    }
    *p = 0;
    return s;
}

/* Seconds as ffmpeg takes them: "12.5", "00:00:02", "1:02.5", "90s", "500ms". */
static int parse_time(const char *s, double *out)
{
    int64_t us;
    if (!*s || av_parse_time(&us, s, 1) < 0 || us < 0)
        return -1;
    *out = us / 1e6;
    return 0;
}

/*
 * The recorded content fingerprint (a receipt's or the registry's) could
 * not be aligned with the clip. The fingerprint is of whole pictures and
 * fails on large crops (an off-centre half-area crop agrees on ~60 % of its
 * bits, what unrelated pictures give) where the mark's tag, read under the
 * geometry the search found, still binds. A bound tag cannot tell such a
 * crop from a re-stamp onto other video by a detection-key holder (who can
 * compute a correct tag), but the clip's shape can (fm_detect_crop_explains:
 * zoomed in, or of another aspect ratio than the issued picture): an
 * unaligned fingerprint is a contradiction (exit 4) unless such a crop,
 * whose tag binds or at least does not contradict the pictures (the crop
 * may have cut the tagged region away), explains it: then unconfirmed
 * (exit 3), never a transplant.
 */
static int fingerprint_unaligned(const ContentCheck *cc)
{
    return cc->checked && cc->m.verdict == FM_FP_NO_MATCH;
}

static int fingerprint_contradicts(const FmDetectResult *r, const ContentCheck *cc)
{
    return fingerprint_unaligned(cc) &&
           !fm_detect_crop_explains(r, cc->clip_aspect, cc->issued_aspect);
}

/* The outcome in one word, for scripts: ids are only given when verified. */
/* A verified mark of format 6 or 5 whose content tag does not agree with the
 * pictures it was read from, and no receipt's fingerprint that vouches for
 * them: the copy attack (or a re-stamp) until shown otherwise. */
static int unbound(const FmDetectResult *r, const ContentCheck *cc)
{
    return fm_detect_unbound(r, content_matches(cc));
}

/* A recipient named from the issued messages (no blind decode) on pictures
 * that are not that issuance's: its recorded content fingerprint does not
 * match the clip, or (a format 6 issuance) the mark's tag contradicts the
 * pictures. The issued message was pasted on other video until shown
 * otherwise. */
static int named_contradicted(const FmDetectResult *r, const ContentCheck *cc,
                              const Identification *id)
{
    if (r->signature_valid || !identify_named_count(id))
        return 0;
    return fingerprint_contradicts(r, cc) ||
           (identify_named_format(id) == FM_MARK_FORMAT_TAGGED && r->content_mismatch);
}

/* The binding's verdict, one word (--json binding_verdict). */
static const char *binding_verdict(const FmDetectResult *r)
{
    return !fm_format_binds(r->mark_format) ? "none" : r->content_bound ? "bound"
           : !r->bind_pairs ? "not_checked" : r->content_mismatch ? "mismatch" : "inconclusive";
}

static const char *binding_text(const FmDetectResult *r)
{
    if (!fm_format_binds(r->mark_format))
        return r->mark_format == 4
               ? "none (format 4's content tag is not checked: re-issue; only a receipt's "
                 "content match excludes a transplant)"
               : "none (this mark format carries no content tag: only a receipt's content "
                 "match excludes a transplant)";
    if (r->content_bound)
        return "yes, the mark was made for these pictures";
    if (!r->bind_pairs)
        return "not checked (needs two consecutive 2-s epochs of picture that is not flat)";
    if (r->content_mismatch)
        return "NO: the signed mark carries another picture's tag (transplanted from other "
               "video?)";
    return "not confirmed (too little of the mark's tag survives in this clip to tell)";
}

static const char *status_name(const FmDetectResult *r, const Identification *id,
                               const ContentCheck *cc)
{
    return r->signature_valid && fingerprint_contradicts(r, cc) ? "unbound"
           : r->signature_valid && fingerprint_unaligned(cc) ? "verified_content_unconfirmed"
           : unbound(r, cc) ? (r->content_mismatch ? "unbound" : "verified_binding_unconfirmed")
           : r->signature_valid ? "verified"
           : named_contradicted(r, cc, id) ? "named_unbound"
           : identify_named_count(id) && (cc->elsewhere || fingerprint_unaligned(cc))
               ? "named_unconfirmed"
           : identify_named_count(id) ? "named"
           : r->found ? "present_unverified" : "absent";
}

/* A JSON real without float noise: 10 significant digits (JSON_REAL_PRECISION
 * at dump time) and never "-0". */
static json_t *real(double x)
{
    return json_real(isfinite(x) ? x + 0.0 : 0.0);
}

static void print_text(const char *clip, const FmDetectResult *r, const char *fp,
                       const ContentCheck *cc, const Provenance *pv, const Identification *id)
{
    char issued[32];
    int named = identify_named_count(id) > 0;
    if (!r->found && !named) {
        printf("%s: no watermark found (%ld frames read, best false-alarm probability %.2g)\n",
               clip, r->frames_read, r->false_alarm_probability);
        if (pv->read_limit > 0)
            printf("  read limit:     the first %.0f s of the clip by default (--duration reads "
                   "more)\n", pv->read_limit);
        identify_text(id, r);
        return;
    }
    if (r->signature_valid && fingerprint_contradicts(r, cc))
        printf("%s: mark valid, content does not match the issued title: transplanted?\n", clip);
    else if (r->signature_valid && fingerprint_unaligned(cc))
        printf("%s: mark valid and bound to these pictures, but the issued title's content "
               "fingerprint cannot be aligned with this crop or inset picture: "
               "unconfirmed\n", clip);
    else if (named_contradicted(r, cc, id))
        printf("%s: an issued message found, but on pictures that are not its issued "
               "title's: transplanted?\n", clip);
    else if (!r->signature_valid && named && fingerprint_unaligned(cc))
        printf("%s: watermark found, recipient named from the issued messages, but the issued "
               "title's content fingerprint cannot be aligned with these pictures (a crop, or "
               "a mark copied onto other video): unconfirmed\n", clip);
    else if (!r->signature_valid && named)
        printf("%s: watermark found, recipient named from the issued messages (the payload "
               "does not decode blind)\n", clip);
    else
        printf("%s: watermark found%s\n", clip,
               r->signature_valid ? ", signature valid"
                                  : ", payload NOT verified: title and recipient unknown");
    if (!r->signature_valid) {
        printf("  payload:        not verified (too damaged to decode and check; no ids are "
               "given)\n");
    } else if (r->payload_valid) {
        fm_minutes_to_iso8601(r->payload.issued_minutes, issued, sizeof(issued));
        printf("  title id:       %u\n", r->payload.title_id);
        printf("  recipient id:   %u%s\n", r->payload.recipient_id,
               r->payload.recipient_id ? "" : " (general release)");
        printf("  issued:         %s\n", issued);
        if (r->signature_valid)
            printf("  AI training:    %s (signed)\n", fm_ai_use_text(r->payload.ai_use));
        if (r->pair_signature_valid) {
            char other[32];
            fm_minutes_to_iso8601(r->pair_payload.issued_minutes, other, sizeof(other));
            printf("  also signed:    recipient id %u, title id %u, issued %s: the clip is the "
                   "average of two recipients' copies (a collusion); both signatures verify\n",
                   r->pair_payload.recipient_id, r->pair_payload.title_id, other);
        } else if (r->pair_read) {
            printf("  read as:        one of two copies averaged (a collusion); the other "
                   "copy's message does not verify\n");
        }
    } else {
        printf("  payload:        unreadable (too damaged to decode)\n");
    }
    printf("  signature:      %s (key %s)\n",
           r->signature_valid ? "valid" : "not verified from the clip alone", fp);
    if (r->hypotheses_log10 > 15)  /* a perspective search's count: over 10^18 */
        printf("  false alarm:    p = %.3g (10^%.1f; pilot z = %.1f, 10^%.1f hypotheses searched)\n",
               r->false_alarm_probability, r->false_alarm_log10, r->pilot_z, r->hypotheses_log10);
    else
        printf("  false alarm:    p = %.3g (10^%.1f; pilot z = %.1f, %ld %s searched%s)\n",
               r->false_alarm_probability, r->false_alarm_log10, r->pilot_z, r->hypotheses,
               r->hypotheses == 1 ? "hypothesis" : "hypotheses",
               r->epoch_signs ? "; each epoch read with its own sign" : "");
    printf("  read from:      %.2f s to %.2f s (%ld frames; %d of %d stretches)\n", r->span[0],
           r->span[1], r->frames_read, r->segments_read, r->segments);
    if (pv->read_limit > 0)
        printf("  read limit:     the first %.0f s of the clip by default (--duration reads more)\n",
               pv->read_limit);
    long pos = lround(r->master_position);
    printf("  master time:    the clip starts near %ld:%02ld:%02ld of the marked master\n",
           pos / 3600, pos / 60 % 60, pos % 60);
    printf("  geometry:       scale %.3f x %.3f, offset (%.1f, %.1f), flip %s, rotation %.1f deg%s\n",
           r->geometry.scale_x, r->geometry.scale_y, r->geometry.offset_x, r->geometry.offset_y,
           r->geometry.flip_h ? (r->geometry.flip_v ? "h+v" : "horizontal")
                              : (r->geometry.flip_v ? "vertical" : "none"),
           r->geometry.rotation_deg,
           r->geometry.perspective ? " (perspective: at the clip's centre)" : "");
    printf("  raw bit errors: %.1f%% before error correction\n", 100 * r->raw_ber);
    if (r->epochs_inverted)
        printf("  tampering:      %d epoch%s carr%s the mark with its sign reversed (an estimate "
               "of the mark subtracted too strongly, or the picture inverted)\n",
               r->epochs_inverted, r->epochs_inverted == 1 ? "" : "s",
               r->epochs_inverted == 1 ? "ies" : "y");
    if (r->signature_valid && r->mark_format != FM_MARK_FORMAT)
        printf("  mark format:    %d (written by filmmark %s: still read; re-issue with this "
               "version for %s)\n", r->mark_format,
               r->mark_format == 6 ? "0.6 to 0.8" : r->mark_format == 5 ? "0.5.x"
               : r->mark_format == 4 ? "0.4.x" : r->mark_format == 3 ? "0.3.x" : "0.2.x",
               r->mark_format == 6 ? "format 7's cells, which resist estimation"
               : fm_format_binds(r->mark_format) ? "the sharper content binding"
               : r->mark_format == 2 ? "the content binding and the stronger code"
                                     : "the content binding");
    if (r->signature_valid && !fm_format_binds(r->mark_format))
        printf("  bound to picture: %s\n", binding_text(r));
    else if (r->signature_valid)
        printf("  bound to picture: %s; z = %.1f over %d epoch%s (%.1f expected if bound), "
               "agreement %.2f\n", binding_text(r), r->bind_z, r->bind_pairs,
               r->bind_pairs == 1 ? "" : "s", r->bind_expected_z, r->bind_agreement);
    identify_text(id, r);
    printf("  clip sha256:    %s\n", pv->sha256);
    printf("  analysed:       %s (UTC) by filmmark %s (mark format %d)\n", pv->analysed, FM_VERSION,
           FM_MARK_FORMAT);
    printf("  command:        %s\n", pv->command ? pv->command : "");
    if (cc->checked && cc->placed)
        printf("  picture place:  %s %.0fx%.0f at (%.0f, %.0f) of the frame; its fingerprint "
               "was compared there (%d place%s the mark's geometry allows, counted in p)\n",
               cc->place.inside ? "the issued picture is shown inside the frame,"
                                : "the clip is a crop of the issued picture, whose whole frame "
                                  "would be",
               cc->place.w, cc->place.h, cc->place.x, cc->place.y, cc->places,
               cc->places == 1 ? "" : "s");
    if (cc->checked) {
        if (cc->m.verdict == FM_FP_TOO_SHORT)
            printf("  content match:  undecided (too little picture to compare)\n");
        else if (cc->elsewhere)
            printf("  content match:  NO at the mark's place: these are the issued title's "
                   "pictures of master %.0f s to %.0f s (%.0f%% of bits agree, p = 10^%.1f), but "
                   "the mark places them at %.0f s (a mark moved within the title, or pasted on "
                   "a shot that goes on past the marked part?)\n",
                   cc->m.master_from, cc->m.master_to, 100 * cc->m.score, cc->m.log10_p,
                   cc->mark_at);
        else if (cc->m.match)
            printf("  content match:  yes, the issued title's pictures (master %.0f s to %.0f s; "
                   "%.0f%% of bits agree, p = 10^%.1f that other pictures agree as well)\n",
                   cc->m.master_from, cc->m.master_to, 100 * cc->m.score, cc->m.log10_p);
        else
            printf("  content match:  NO (the best alignment with the issued title agrees on "
                   "%.0f%% of bits, p = 10^%.1f: what unrelated pictures give)%s\n",
                   100 * cc->m.score, cc->m.log10_p,
                   fm_detect_crop_explains(r, cc->clip_aspect, cc->issued_aspect)
                       ? (r->content_bound
                              ? "; the mark's tag binds these pictures and the clip is a crop "
                                "of them, which the fingerprint cannot align (unconfirmed)"
                              : "; the clip is a crop the fingerprint cannot align, and the "
                                "mark's tag can neither confirm nor contradict it "
                                "(unconfirmed)")
                       : "");
    }
}

static void print_json(const char *clip, const FmDetectResult *r, const char *fp, int informed,
                       const ContentCheck *cc, const Provenance *pv, const Identification *id)
{
    char issued[32] = "";
    if (r->payload_valid)
        fm_minutes_to_iso8601(r->payload.issued_minutes, issued, sizeof(issued));
    json_t *o = json_object();
    json_object_set_new(o, "schema", json_string("filmmark-detect-1"));
    json_object_set_new(o, "version", json_string(FM_VERSION));
    json_object_set_new(o, "file", json_string(clip));
    json_object_set_new(o, "file_sha256", json_string(pv->sha256));
    json_object_set_new(o, "analysed_utc", json_string(pv->analysed));
    json_object_set_new(o, "command", pv->command ? json_string(pv->command) : json_null());
    json_object_set_new(o, "read_limit_s", pv->read_limit > 0 ? real(pv->read_limit) : json_null());
    json_object_set_new(o, "status", json_string(status_name(r, id, cc)));
    json_object_set_new(o, "found", json_boolean(r->found));
    json_object_set_new(o, "signature_valid", json_boolean(r->signature_valid));
    /* ids only from a verified payload: an unverified decode is noise */
    int show = r->found && r->payload_valid && r->signature_valid;
    json_object_set_new(o, "title_id", show ? json_integer(r->payload.title_id) : json_null());
    json_object_set_new(o, "recipient_id", show ? json_integer(r->payload.recipient_id) : json_null());
    json_object_set_new(o, "issued", show ? json_string(issued) : json_null());
    const char *ai = r->signature_valid ? fm_ai_use_name(r->payload.ai_use) : NULL;
    json_object_set_new(o, "ai_use", !r->signature_valid ? json_null()
                                     : ai ? json_string(ai) : json_integer(r->payload.ai_use));
    char msg_hex[2 * FM_MESSAGE_BYTES + 1];
    fm_hex(r->message, FM_MESSAGE_BYTES, msg_hex);
    json_object_set_new(o, "message_hex", show ? json_string(msg_hex) : json_null());
    /* the pair read (msgcode.h): the clip read as two recipients' copies averaged */
    json_object_set_new(o, "averaged_pair", json_boolean(show && r->pair_read));
    json_t *other = json_null();
    if (show && r->pair_signature_valid) {
        char when[32], hex[2 * FM_MESSAGE_BYTES + 1];
        const char *pai = fm_ai_use_name(r->pair_payload.ai_use);
        fm_minutes_to_iso8601(r->pair_payload.issued_minutes, when, sizeof(when));
        fm_hex(r->pair_message, FM_MESSAGE_BYTES, hex);
        other = json_object();
        json_object_set_new(other, "title_id", json_integer(r->pair_payload.title_id));
        json_object_set_new(other, "recipient_id", json_integer(r->pair_payload.recipient_id));
        json_object_set_new(other, "issued", json_string(when));
        json_object_set_new(other, "ai_use", pai ? json_string(pai)
                                                 : json_integer(r->pair_payload.ai_use));
        json_object_set_new(other, "message_hex", json_string(hex));
    }
    json_object_set_new(o, "pair_other", other);
    json_object_set_new(o, "format", json_integer(FM_PAYLOAD_VERSION));
    /* the code the verified message was read with: 3, or 2 for a mark
     * written by filmmark 0.2.x */
    json_object_set_new(o, "mark_format", r->signature_valid ? json_integer(r->mark_format)
                                                             : json_null());
    /* format 5: the content tag against the clip's own pictures */
    json_object_set_new(o, "content_bound", !r->signature_valid || !fm_format_binds(r->mark_format)
                                            || !r->bind_pairs ? json_null()
                                                              : json_boolean(r->content_bound));
    json_object_set_new(o, "binding_z", r->signature_valid && r->bind_pairs ? real(r->bind_z)
                                                                            : json_null());
    json_object_set_new(o, "binding_agreement", r->signature_valid && r->bind_pairs
                                                ? real(r->bind_agreement) : json_null());
    json_object_set_new(o, "binding_epochs", json_integer(r->signature_valid ? r->bind_pairs : 0));
    json_object_set_new(o, "binding_expected_z", r->signature_valid && r->bind_pairs
                                                 ? real(r->bind_expected_z) : json_null());
    json_object_set_new(o, "binding_worst_coverage", r->signature_valid && r->bind_pairs
                                                     ? real(r->bind_worst_coverage) : json_null());
    json_object_set_new(o, "binding_verdict", r->signature_valid
                                              ? json_string(binding_verdict(r)) : json_null());
    json_object_set_new(o, "false_alarm_probability", real(r->false_alarm_probability));
    json_object_set_new(o, "false_alarm_log10", real(r->false_alarm_log10));
    json_object_set_new(o, "pilot_z", real(r->pilot_z));
    json_object_set_new(o, "hypotheses", json_integer(r->hypotheses));
    if (r->hypotheses_log10 > 0)
        json_object_set_new(o, "hypotheses_log10", real(r->hypotheses_log10));
    json_object_set_new(o, "span_seconds", json_pack("[o, o]", real(r->span[0]), real(r->span[1])));
    json_object_set_new(o, "key_fingerprint", json_string(fp));
    json_object_set_new(o, "frames_read", json_integer(r->frames_read));
    json_object_set_new(o, "intra_weight", real(pv->intra_weight));
    json_object_set_new(o, "master_position_seconds", real(r->master_position));
    json_object_set_new(o, "stretches", json_integer(r->segments));
    json_object_set_new(o, "stretches_read", json_integer(r->segments_read));
    json_object_set_new(o, "raw_bit_error_rate", real(r->raw_ber));
    json_object_set_new(o, "pilot_statistic",
                        json_string(r->epoch_signs ? "epoch_signs" : "coherent"));
    json_object_set_new(o, "epochs_inverted", json_integer(r->epochs_inverted));
    json_object_set_new(o, "decoder_list_rank", json_integer(r->list_rank));
    json_object_set_new(o, "decoder_list", json_integer(r->list_length));
    json_object_set_new(o, "geometry", json_pack("{s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:b}",
        "scale_x", real(r->geometry.scale_x), "scale_y", real(r->geometry.scale_y),
        "offset_x", real(r->geometry.offset_x), "offset_y", real(r->geometry.offset_y),
        "flip_h", r->geometry.flip_h, "flip_v", r->geometry.flip_v,
        "rotation_deg", real(r->geometry.rotation_deg),
        "perspective", r->geometry.perspective));
    identify_json(id, r, o);
    if (informed) {
        /* the blind decode is one of the receipts' messages; the score of
         * the best receipt on what tells it from the title's other
         * messages (docs/DESIGN.md §12), not on the bits they share */
        int match = 0;
        for (size_t i = 0; i < id->n; i++)
            match |= r->signature_valid && id->suspects[i].receipt &&
                     !memcmp(id->suspects[i].message, r->message, FM_MESSAGE_BYTES);
        json_object_set_new(o, "receipt_match", json_boolean(match));
        json_object_set_new(o, "receipt_z", id->scored ? real(id->naming.scores[0].z)
                                                        : json_null());
        json_object_set_new(o, "receipt_false_alarm_log10",
                            id->scored ? real(id->naming.scores[0].false_alarm_log10)
                                       : json_null());
    }
    /* the content against the issued title's fingerprint: a receipt's, or
     * the named issuance's */
    if (informed || cc->checked) {
        json_object_set_new(o, "content_match", !cc->checked || cc->m.verdict == FM_FP_TOO_SHORT
                                                ? json_null() : json_boolean(content_matches(cc)));
        json_t *c = json_object();
        json_object_set_new(c, "verdict", json_string(verdict_name(cc)));
        if (cc->checked)
            json_object_set_new(c, "fingerprint_from",
                                json_string(cc->from_registry ? "registry" : "receipt"));
        if (cc->checked && cc->m.verdict != FM_FP_TOO_SHORT) {
            json_object_set_new(c, "false_match_log10", real(cc->m.log10_p));
            json_object_set_new(c, "bits_agreeing", real(cc->m.score));
            json_object_set_new(c, "master_seconds", json_pack("[o, o]", real(cc->m.master_from),
                                                               real(cc->m.master_to)));
            json_object_set_new(c, "clip_seconds", json_pack("[o, o]", real(cc->m.clip_from),
                                                             real(cc->m.clip_to)));
            if (cc->elsewhere)
                json_object_set_new(c, "mark_master_seconds", real(cc->mark_at));
            json_object_set_new(c, "picture_place", !cc->placed ? json_null()
                                : json_pack("{s:o, s:o, s:o, s:o, s:b, s:i}",
                                            "x", real(cc->place.x), "y", real(cc->place.y),
                                            "width", real(cc->place.w),
                                            "height", real(cc->place.h),
                                            "within_frame", cc->place.inside,
                                            "places", cc->places));
        }
        json_object_set_new(o, "content", c);
    }
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(o);
}

/* The recipients the identification names, for the evidence report, each
 * issued message once (a receipt given may repeat a registry row); ids
 * holds their numbers as text. Both arrays of identify_named_count().
 * Returns how many. */
static int report_recipients(const Identification *id, FmReportRecipient *out, char (*ids)[16])
{
    int n = 0;
    for (size_t i = 0; i < identify_named_count(id); i++) {
        const Suspect *s = identify_named(id, i);
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= !memcmp(identify_named(id, j)->message, s->message, FM_MESSAGE_BYTES);
        if (seen)
            continue;
        snprintf(ids[n], sizeof(ids[n]), "%u", s->recipient_id);
        out[n++] = (FmReportRecipient){
            .recipient_id = ids[n - 1], .name = s->name,
            .identified_by = s->registry_id > 0 ? "registry" : "receipt",
            .z = id->naming.scores[i].z,
            .false_alarm_log10 = id->naming.scores[i].false_alarm_log10,
            .receipt = s->registry_id > 0 ? NULL : s->receipt,
        };
    }
    return n;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, 0, 'k' },
        { "receipt", required_argument, 0, 'r' },
        { "registry", required_argument, 0, 'R' },
        { "no-registry", no_argument, 0, 'N' },
        { "start", required_argument, 0, 's' },
        { "duration", required_argument, 0, 'd' },
        { "threads", required_argument, 0, 't' },
        { "intra-weight", required_argument, 0, 'W' },
        { "scan", required_argument, 0, 'S' },
        { "report", required_argument, 0, 'E' },
        { "json", no_argument, 0, 'j' },
        { "quiet", no_argument, 0, 'q' },
        { "version", no_argument, 0, 'V' },
        { "loglevel", required_argument, 0, 'v' },
        { "progress", required_argument, 0, 'P' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *key_path = NULL, *receipt_path = NULL, *registry_opt = NULL,
               *report_path = NULL;
    /* on the stack: the early returns below free nothing */
    char *receipts[argc > 0 ? argc : 1];
    size_t nreceipts = 0;
    int use_registry = 1;
    double start = 0, duration = 0;
    int json = 0, quiet = 0, threads = 0, c;
    float intra_weight = FM_INTRA_WEIGHT;
    const char *scan_root = NULL;

    opterr = 0;
    int want_version = 0;
    const char *loglevel = NULL, *progress_path = NULL;
    /* the command line as typed: argv before getopt permutes it */
    char *argv_typed[argc + 1];
    memcpy(argv_typed, argv, (size_t)(argc + 1) * sizeof(*argv));
    while ((c = getopt_long(argc, argv, ":k:qhVv:", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'r':
            /* several receipts (or directories of them) are candidates */
            if (!receipt_path)
                receipt_path = optarg;
            receipts[nreceipts++] = optarg;
            break;
        case 'R': registry_opt = optarg; break;
        case 'S': scan_root = optarg; break;
        case 'N': use_registry = 0; break;
        case 'E': report_path = optarg; break;
        case 's':
            if (parse_time(optarg, &start) < 0) {
                fprintf(stderr, "wmdetect: --start '%s' is not a time (seconds, or [HH:]MM:SS[.m])\n", optarg);
                return EXIT_ERROR;
            }
            break;
        case 'd':
            if (parse_time(optarg, &duration) < 0 || duration <= 0) {
                fprintf(stderr, "wmdetect: --duration '%s' is not a positive time (seconds, or [HH:]MM:SS[.m])\n", optarg);
                return EXIT_ERROR;
            }
            break;
        case 't':
            if (fm_parse_int(optarg, 1, 256, &threads) < 0) {
                fprintf(stderr, "wmdetect: --threads '%s' is not a number in 1..256\n", optarg);
                return EXIT_ERROR;
            }
            break;
        case 'W': {
            char *end;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v >= 1 && v <= FM_FRAME_WEIGHT_MAX)) {
                fprintf(stderr, "wmdetect: --intra-weight '%s' is not a number in 1..1000\n",
                        optarg);
                return EXIT_ERROR;
            }
            intra_weight = (float)v;
            break;
        }
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V': want_version = 1; break;
        case 'v': loglevel = optarg; break;
        case 'P': progress_path = optarg; break;
        default: {
            char msg[300];
            fprintf(stderr, "wmdetect: %s\n", fm_option_error(opts, argv, c, msg, sizeof(msg)));
            return EXIT_ERROR;
        }
        }
    }
    if (want_version) {
        fm_print_version(stdout, "wmdetect", json);
        return 0;
    }
    if (scan_root && (optind != argc || receipt_path || start > 0 || duration > 0)) {
        fprintf(stderr, "wmdetect: --scan takes no clip, --receipt, --start or --duration (see --help)\n");
        return EXIT_ERROR;
    }
    if (!scan_root && optind != argc - 1) {
        fprintf(stderr, "wmdetect: %s (see --help)\n",
                optind >= argc ? "no clip given" : "give exactly one clip");
        return EXIT_ERROR;
    }
    const char *clip = scan_root ? NULL : argv[optind];
    /* "-": the clip from standard input, copied to a private file first */
    int clip_stdin = clip && !strcmp(clip, "-");
    if (clip_stdin && report_path) {
        fprintf(stderr, "wmdetect: --report reads the clip again for its pictures: give the "
                "clip as a file, not -\n");
        return EXIT_ERROR;
    }
    char spool[4096] = "";
    if (clip && report_path && (fm_same_file(report_path, clip) ||
                                (receipt_path && fm_same_file(report_path, receipt_path)) ||
                                (key_path && fm_same_file(report_path, key_path)))) {
        fprintf(stderr, "wmdetect: --report '%s' would replace an input\n", report_path);
        return EXIT_ERROR;
    }

    FmError err = { { 0 } };
    FmKeyList klist = { 0 };
    FmKey **keys = NULL;
    int ret = EXIT_ERROR;
    FmVideoReader *reader = NULL;
    FmAccumulator acc = { 0 };
    int have_acc = 0;
    FmFingerprint *master_fp = NULL, *clip_fp = NULL, *named_fp = NULL;
    const FmFingerprint *issued_fp = NULL;   /* the one cc.m compared with */
    FmFileHash *clip_hash = NULL;
    ContentCheck cc = { 0 };
    Identification ident = { 0 };
    Provenance pv = { .command = command_line(argc, argv_typed), .intra_weight = intra_weight };
    time_t now = time(NULL);
    struct tm tm;
    strftime(pv.analysed, sizeof(pv.analysed), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    FmStrengthTrace trace[2] = { { 0 } };   /* the best key's, the current key's */

    /* our one-line messages say what failed; FFmpeg's own logging on request */
    av_log_set_level(getenv("FILMMARK_DEBUG") ? AV_LOG_INFO : AV_LOG_QUIET);
    if (loglevel && fm_set_loglevel(loglevel) < 0) {
        fm_error_set(&err, FM_EINVAL, "--loglevel '%s' is not one of quiet, error, warning, "
                     "info, debug", loglevel);
        goto fail_err;
    }
    FILE *progress_file = NULL;
    if (progress_path && !(progress_file = !strcmp(progress_path, "-") ? stderr
                                           : fopen(progress_path, "w"))) {
        fm_error_set(&err, FM_EIO, "cannot write --progress '%s'", progress_path);
        goto fail_err;
    }
    if (fm_init(&err) < 0)
        goto fail_err;
    if (key_path) {
        klist.keys = calloc(1, sizeof(*klist.keys));
        klist.paths = calloc(1, sizeof(*klist.paths));
        if (!klist.keys || !klist.paths || !(klist.keys[0] = fm_key_new())) {
            fm_error_set(&err, FM_ENOMEM, "out of secure memory");
            goto fail_err;
        }
        klist.n = klist.cap = 1;
        if (fm_key_load(klist.keys[0], key_path, FM_KEY_DETECT, &err) < 0)
            goto fail_err;
    } else {
        /* every usable key of the directory, in file name order (keys.h) */
        char dir[4096];
        if (fm_key_dir_default(dir, sizeof(dir), &err) < 0 ||
            fm_key_load_dir(dir, &klist, warn_key, NULL, &err) < 0)
            goto fail_err;
    }
    keys = klist.keys;
    /* the keys' pilot tables, made on a thread of their own while the clip
     * is opened and decoded (at most FM_PILOT_TABLES_PREPARED_MAX keys; any
     * other key's are made when it is tried) */
    for (size_t i = 0; i < klist.n && i < FM_PILOT_TABLES_PREPARED_MAX; i++)
        fm_pilot_tables_prepare(keys[i]->wm_key);
    if (scan_root) {
        FmScanOptions so = { .root = scan_root, .threads = threads, .json = json, .quiet = quiet,
                             .intra_weight = intra_weight };
        ret = fm_scan_run(&so, keys, (int)klist.n);
        goto end;
    }
    /* candidates: the registry's messages of these keys, and the receipts */
    if (identify_collect(&ident, &klist, use_registry, registry_opt, receipts, nreceipts,
                         &err) < 0)
        goto fail_err;
    /* the content fingerprint of the first receipt given that is a file */
    for (size_t i = 0; i < ident.n && !master_fp; i++) {
        if (!ident.suspects[i].receipt)
            continue;
        int fr = fm_receipt_read_fingerprint(ident.suspects[i].receipt,
                                             keys[ident.suspects[i].key], &master_fp, &err);
        if (fr < 0 && fr != FM_ENOTFOUND)
            goto fail_err;
        cc.issued_aspect = identify_receipt_aspect(ident.suspects[i].receipt);
        break;
    }
    /* the clip's own fingerprint whenever there are candidates: the one
     * named may carry the issued title's */
    if ((master_fp || ident.n) && fm_fingerprint_new(&clip_fp, FM_FP_CLIP, &err) < 0)
        goto fail_err;

    if (clip_stdin && fm_spool_stdin(spool, sizeof spool, &err) < 0)
        goto fail_err;
    const char *clip_file = clip_stdin ? spool : clip;
    /* the file's hash for the report, taken while the clip is decoded */
    if (fm_reader_open(&reader, clip_file, &err) < 0 ||
        fm_sha256_file_start(&clip_hash, clip_file, &err) < 0)
        goto fail_err;
    fm_reader_set_read_only(reader, 1);    /* the detector only reads the pictures */
    const FmVideoInfo *info = fm_reader_info(reader);
    cc.clip_aspect = info->height > 0 ? (double)info->width / info->height : 0;
    if (start > 0 && fm_reader_seek(reader, start, &err) < 0)
        goto fail_err;
    if (fm_accumulator_init(&acc, info->width, info->height, &err) < 0)
        goto fail_err;
    have_acc = 1;
    /* without --duration, the default's clip time (accumulator.h) */
    double read_seconds = duration > 0 ? duration : FM_DEFAULT_READ_SECONDS;
    fm_accumulator_set_max_seconds(&acc, read_seconds + FM_WINDOW_SECONDS);
    if (threads && fm_accumulator_set_threads(&acc, threads) < 0) {
        fm_error_set(&err, FM_ENOMEM, "out of memory starting %d threads", threads);
        goto fail_err;
    }
    /* a small clip also on a grid of the mark's resolution, where a picture
     * inset in it (picture in picture) is found (accumulator.h) */
    if (fm_accumulator_search_insets(&acc, &err) < 0)
        goto fail_err;

    FmProgress prog;
    fm_progress_init(&prog, stderr, info->nb_frames > 0 ? info->nb_frames : 0, quiet);
    fm_progress_machine(&prog, progress_file);
    AVFrame *frame;
    int r;
    double ft;   /* the frame's time, seconds */
    long frames = 0;
    /* the frames and their times as the library reads them (clip_frames.h) */
    FmClipFrames cf;
    fm_clip_frames_init(&cf, reader, start, read_seconds);
    /* decoding runs ahead on its own thread while the detector works */
    if (fm_clip_frames_read_ahead(&cf, FM_READ_AHEAD_DEPTH, &err) < 0)
        goto fail_err;
    while ((r = fm_clip_frames_next(&cf, &frame, &ft, &err)) > 0) {
        ptrdiff_t stride;
        const uint8_t *luma = fm_frame_luma(frame, &stride);
        if ((r = fm_accumulator_add_weighted(&acc, luma, stride, info->bit_depth, ft,
                                             fm_frame_evidence_weight(frame, intra_weight),
                                             &err)) < 0 ||
            (clip_fp && (r = fm_fingerprint_add(clip_fp, luma, stride, info->bit_depth,
                                                info->width, info->height, ft, &err)) < 0))
            break;
        frames++;
        fm_progress_update(&prog, frames, "reading");
    }
    fm_clip_frames_end(&cf);   /* the reader is ours again */
    if (cf.cut && duration <= 0)
        pv.read_limit = read_seconds;
    fm_progress_end_frames(&prog, frames);
    if (r < 0)
        goto fail_err;
    if (frames == 0 && start > 0 && info->duration > 0 && start >= info->duration) {
        fm_error_set(&err, FM_EINVAL, "--start %.1f s is after the end of '%s' (%.1f s)", start,
                     clip, info->duration);
        goto fail_err;
    }
    if (frames == 0) {
        fm_error_set(&err, FM_EFORMAT, "'%s' has no decodable video frames", clip);
        goto fail_err;
    }
    if (fm_sha256_file_join(&clip_hash, pv.sha256, &err) < 0)
        goto fail_err;

    FmDetectResult best = { 0 };
    int best_key = -1;
    for (int t = 0; t < 2 && report_path; t++) {
        trace[t].cap = acc.nwin + 1;   /* a point per epoch group: at most one per window */
        if (!(trace[t].points = calloc((size_t)trace[t].cap, sizeof(FmStrengthPoint)))) {
            fm_error_set(&err, FM_ENOMEM, "out of memory for the report");
            goto fail_err;
        }
        ident.trace[t] = &trace[t];
    }
    /* every key (a still picture or a one-frame clip: the still detector,
     * no naming), corrected for their number: common/detect_keys.h */
    if (identify_run(&ident, &acc, &klist, &best, &best_key, &err) < 0)
        goto fail_err;
    /* a valid signature on pictures that are not the issued title's: the
     * copy attack, or a re-stamp by a detection-key holder */
    cc.clip_t0 = acc.t_origin;
    if (master_fp && best.signature_valid) {
        cc.clip_from = best.span[0];
        cc.clip_to = best.span[1] + FM_WINDOW_SECONDS;
        if (fm_fingerprint_compare_span(master_fp, clip_fp, cc.clip_from, cc.clip_to, &cc.m,
                                        &err) < 0)
            goto fail_err;
        cc.checked = 1;
        issued_fp = master_fp;
        /* the fingerprint's alignment against where the mark places the clip */
        if (check_position(&cc, mark_position(&best, &ident, best_key), master_fp, clip_fp,
                           &err) < 0)
            goto fail_err;
    }
    /* else the same check against the issuance's own fingerprint (the
     * registry row's or its receipt's): of the message decoded blind, or of
     * the recipient named from the issued messages, for an issued message
     * can be pasted on other video as well (the copy attack) */
    if (!cc.checked && clip_fp && (best.signature_valid || identify_named_count(&ident))) {
        int fr = identify_issued_fingerprint(&ident, &klist,
                                             best.signature_valid ? best.message : NULL,
                                             &named_fp, &cc.issued_aspect, &cc.from_registry,
                                             &err);
        if (fr < 0 && fr != FM_ENOTFOUND)
            goto fail_err;
        double from = best.span[1] > best.span[0] ? best.span[0] : 0;
        double to = best.span[1] > best.span[0] ? best.span[1] + FM_WINDOW_SECONDS
                                                : (acc.nwin ? acc.win[acc.nwin - 1].t_last
                                                            + FM_WINDOW_SECONDS : 0);
        if (named_fp) {
            cc.clip_from = from;
            cc.clip_to = to;
            fr = fm_fingerprint_compare_span(named_fp, clip_fp, from, to, &cc.m, &err);
            cc.checked = fr >= 0;
            issued_fp = named_fp;
            if (fr >= 0)
                fr = check_position(&cc, mark_position(&best, &ident, best_key), named_fp,
                                    clip_fp, &err);
            if (fr < 0)
                goto fail_err;
        }
    }
    /* no match of whole frames: the issued picture may be inset or cropped */
    if (check_places(&cc, &best, issued_fp, clip_file, info, start, read_seconds,
                    mark_position(&best, &ident, best_key), &err) < 0)
        goto fail_err;
    char fp[FM_FINGERPRINT_CHARS + 1];
    fm_key_fingerprint(keys[best_key], fp);
    if (report_path) {
        size_t nnamed = identify_named_count(&ident);
        FmReportRecipient *named = calloc(nnamed + 1, sizeof(*named));
        char (*ids)[16] = calloc(nnamed + 1, sizeof(*ids));
        if (!named || !ids) {
            free(named);
            free(ids);
            fm_error_set(&err, FM_ENOMEM, "out of memory for the report");
            goto fail_err;
        }
        int nrec = report_recipients(&ident, named, ids), rmatch = 0;
        for (size_t i = 0; i < ident.n; i++)   /* as receipt_match in --json */
            rmatch |= best.signature_valid && ident.suspects[i].receipt &&
                      !memcmp(ident.suspects[i].message, best.message, FM_MESSAGE_BYTES);
        FmReportInput in = {
            .clip_path = clip, .clip_sha256 = pv.sha256, .clip_bytes = -1, .info = info,
            .start = start, .duration = duration, .read_limit = pv.read_limit,
            .tool_version = FM_VERSION, .argc = argc,
            .argv = argv,
            .analysed_at = now, .keys_tried = (int)klist.n, .result = &best,
            .key_fingerprint = fp, .trace = ident.trace[0], .receipt_path = receipt_path,
            .content = cc.checked ? &cc.m : NULL, .content_elsewhere = cc.elsewhere,
            .content_mark_at = cc.mark_at, .content_from_registry = cc.from_registry,
            .content_place = cc.placed ? &cc.place : NULL, .content_places = cc.places,
            .receipt_match = rmatch,
            .content_crop = fm_detect_crop_explains(&best, cc.clip_aspect, cc.issued_aspect),
            .receipt_z = ident.scored ? ident.naming.scores[0].z : NAN,
            .receipt_log10_p = ident.scored ? ident.naming.scores[0].false_alarm_log10 : 0,
            .registry_consulted = ident.registry[0] || ident.scored,
            .registry = ident.registry[0] ? ident.registry : "the receipts given",
            .recipients = named, .nrecipients = nrec,
            .named = best.signature_valid || !identify_named_count(&ident) ? FM_REPORT_NAMED_NONE
                     : named_contradicted(&best, &cc, &ident) ? FM_REPORT_NAMED_UNBOUND
                     : cc.elsewhere || fingerprint_unaligned(&cc) ? FM_REPORT_NAMED_UNCONFIRMED
                     : FM_REPORT_NAMED,
        };
        int rr = fm_report_make(report_path, &in, &err);
        free(named);
        free(ids);
        if (rr < 0)
            goto fail_err;
    }
    if (json)
        print_json(clip, &best, fp, receipt_path != NULL, &cc, &pv, &ident);
    else if (!quiet)
        print_text(clip, &best, fp, &cc, &pv, &ident);
    /* named from the issued messages: found, by the signed message on
     * record, unless the issuance's fingerprint does not match the pictures
     * (a crop may explain that, but does not vouch for them: an enlarged
     * paste on other pictures reads as a crop) */
    ret = identify_named_count(&ident) && !best.signature_valid
              ? (named_contradicted(&best, &cc, &ident) ? EXIT_MISMATCH
                 : cc.elsewhere || fingerprint_unaligned(&cc) ? EXIT_UNVERIFIED : EXIT_FOUND)
        : !best.found ? EXIT_NONE : !best.signature_valid ? EXIT_UNVERIFIED
        : fingerprint_contradicts(&best, &cc) ? EXIT_MISMATCH
        : fingerprint_unaligned(&cc) ? EXIT_UNVERIFIED
        : unbound(&best, &cc) ? (best.content_mismatch ? EXIT_MISMATCH : EXIT_UNVERIFIED)
        : EXIT_FOUND;
    goto end;

fail_err:
    fprintf(stderr, "wmdetect: %s\n", err.msg);
    if (json)
        fm_print_json_error(stdout, "wmdetect", err.msg, EXIT_ERROR);
    ret = EXIT_ERROR;
end:
    fm_sha256_file_join(&clip_hash, pv.sha256, NULL);
    for (size_t i = 0; keys && i < klist.n && i < FM_PILOT_TABLES_PREPARED_MAX; i++)
        fm_pilot_tables_unprepare(keys[i]->wm_key);
    if (have_acc)
        fm_accumulator_free(&acc);
    fm_reader_close(&reader);
    fm_fingerprint_free(&master_fp);
    fm_fingerprint_free(&clip_fp);
    fm_fingerprint_free(&named_fp);
    free(trace[0].points);
    free(trace[1].points);
    identify_free(&ident);
    fm_key_list_free(&klist);
    free(pv.command);
    if (spool[0])
        unlink(spool);
    return ret;
}
