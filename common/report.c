#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/pixdesc.h>
#include <sodium.h>

#include "atomic_file.h"
#include "content_tag.h"
#include "pattern.h"
#include "payload.h"
#include "tool_util.h"

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
            : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!n)
        return 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates, beyond Unicode */
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

void fm_html_escape(FILE *f, const char *s)
{
    if (!s)
        return;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = utf8_len(p);
        if (n == 0) {
            fputs("\xEF\xBF\xBD", f);      /* U+FFFD for a byte that is not UTF-8 */
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, (size_t)n, f);
            p += n;
            continue;
        }
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7F)
                fputs("\xEF\xBF\xBD", f);
            else
                fputc(*p, f);
        }
        p++;
    }
}

/* ---- figures in words ---- */

/* p = 10^lg as "3.2 × 10<sup>−12</sup>" (or plainly when not tiny). */
static void put_p(FILE *f, double lg)
{
    if (!isfinite(lg) || lg >= 0) {
        fputs("1 (no evidence)", f);
        return;
    }
    if (lg > -3) {
        fprintf(f, "%.3g", pow(10, lg));
        return;
    }
    double e = floor(lg);
    double m = pow(10, lg - e);
    if (m >= 9.95) {
        m = 1;
        e += 1;
    }
    fprintf(f, "%.1f&nbsp;&times;&nbsp;10<sup>&minus;%.0f</sup>", m, -e);
}

/* H as searched: the result's count, or its log where that is capped */
static double hypotheses_of(const FmDetectResult *r)
{
    return r->hypotheses_log10 > 15 ? pow(10, r->hypotheses_log10) : (double)r->hypotheses;
}

double fm_report_z_for(double p, double hypotheses)
{
    double z = fm_gauss_z_for_tail_log10(log10(p) - log10(hypotheses > 1 ? hypotheses : 1));
    return z > 0 ? z : 0;
}

static int by_z_desc(const void *a, const void *b)
{
    const FmStrengthPoint *x = a, *y = b;
    return (x->z < y->z) - (x->z > y->z);
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int fm_report_pick_times(const FmStrengthTrace *trace, int max, double min_gap, double *times,
                         double *z)
{
    if (!trace || trace->n <= 0 || max <= 0)
        return 0;
    FmStrengthPoint *p = malloc(sizeof(*p) * (size_t)trace->n);
    if (!p)
        return 0;
    memcpy(p, trace->points, sizeof(*p) * (size_t)trace->n);
    qsort(p, (size_t)trace->n, sizeof(*p), by_z_desc);
    double pick[2][64];
    int n = 0;
    if (max > 64)
        max = 64;
    for (int i = 0; i < trace->n && n < max; i++) {
        double t = 0.5 * (p[i].t0 + p[i].t1);
        int near = 0;
        for (int j = 0; j < n; j++)
            near |= fabs(pick[0][j] - t) < min_gap;
        if (near)
            continue;
        pick[0][n] = t;
        pick[1][n++] = p[i].z;
    }
    free(p);
    /* time order, z following its time */
    double tz[64][2];
    for (int i = 0; i < n; i++) {
        tz[i][0] = pick[0][i];
        tz[i][1] = pick[1][i];
    }
    qsort(tz, (size_t)n, sizeof(tz[0]), by_double);
    for (int i = 0; i < n; i++) {
        times[i] = tz[i][0];
        if (z)
            z[i] = tz[i][1];
    }
    return n;
}

/* ---- the page ---- */

static const char CSS[] =
    "body{font:15px/1.5 Georgia,'DejaVu Serif',serif;color:#111;background:#fff;"
    "max-width:62em;margin:2em auto;padding:0 1.5em}"
    "h1{font-size:1.7em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #999;"
    "margin-top:2em}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{text-align:left;vertical-align:top;"
    "padding:.25em .8em .25em 0;border-bottom:1px solid #ddd}th{font-weight:normal;color:#444;"
    "white-space:nowrap}"
    "code,pre,.mono{font-family:'DejaVu Sans Mono',monospace;font-size:.9em}"
    "pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.6em}"
    ".verdict{font-size:1.15em;padding:.8em 1em;border-left:6px solid #555;background:#f4f4f4}"
    ".found{border-color:#1a7f37}.unverified{border-color:#b35900}.none{border-color:#777}"
    ".mismatch{border-color:#b00020}"
    ".sub{color:#444}.note{color:#444;font-size:.92em}"
    "svg{max-width:100%;height:auto}"
    "figure{display:inline-block;margin:.4em .6em .4em 0}figcaption{font-size:.85em;color:#333}"
    "svg text{font-family:'DejaVu Sans',sans-serif;font-size:12px;fill:#222}"
    "@media print{body{margin:0;max-width:none}}";

static const char *flip_text(const FmGeometry *g)
{
    return g->flip_h ? (g->flip_v ? "mirrored left-right and upside down" : "mirrored left-right")
                     : (g->flip_v ? "upside down" : "none");
}

static void row_begin(FILE *f, const char *label)
{
    fprintf(f, "<tr><th>%s</th><td>", label);
}

static void row_text(FILE *f, const char *label, const char *value)
{
    row_begin(f, label);
    fm_html_escape(f, value);
    fputs("</td></tr>\n", f);
}

static void put_seconds(FILE *f, double s)
{
    if (!(s > 0)) {
        fputs("unknown", f);
        return;
    }
    long ms = lround(s * 1000);
    fprintf(f, "%.3f s", s);
    if (ms >= 60000)
        fprintf(f, " (%ld:%02ld:%02ld.%03ld)", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
                ms % 1000);
}

static void put_verdict(FILE *f, const FmReportInput *in)
{
    const FmDetectResult *r = in->result;
    /* an unaligned fingerprint is a mismatch unless a crop whose content
     * tag does not contradict it explains it: then unconfirmed
     * (fm_detect_crop_explains) */
    int unaligned = r->signature_valid && in->content && in->content->verdict == FM_FP_NO_MATCH;
    int mismatch = unaligned && !in->content_crop;
    /* the mark's content tag (formats 5, 6) where no content fingerprint
     * vouches for the pictures at the mark's place: as wmdetect's exit
     * status, a contradicting tag is a transplant, a weak one unconfirmed */
    int vouched = in->content && in->content->verdict == FM_FP_MATCH && !in->content_elsewhere;
    int not_bound = fm_detect_unbound(r, vouched) && !unaligned;
    int tag_says_no = not_bound && r->content_mismatch;
    const char *cls = in->named == FM_REPORT_NAMED_UNBOUND ? "mismatch"
                      : in->named == FM_REPORT_NAMED_UNCONFIRMED ? "unverified"
                      : in->named == FM_REPORT_NAMED ? "found"
                      : !r->found ? "none" : mismatch || tag_says_no ? "mismatch"
                      : unaligned || not_bound ? "unverified"
                      : r->signature_valid ? "found" : "unverified";
    fprintf(f, "<p class=\"verdict %s\" id=\"verdict\">", cls);
    char issued[32];
    if (r->found && r->signature_valid && r->payload_valid) {
        fm_minutes_to_iso8601(r->payload.issued_minutes, issued, sizeof(issued));
        fputs("This clip carries a filmmark watermark whose signed payload verifies with the "
              "public key <span class=\"mono\">", f);
        fm_html_escape(f, in->key_fingerprint);
        fprintf(f, "</span>: title %u, ", r->payload.title_id);
        if (r->payload.recipient_id)
            fprintf(f, "recipient %u", r->payload.recipient_id);
        else
            fputs("general release (no recipient)", f);
        fputs(", issued ", f);
        fm_html_escape(f, issued);
        if (r->pair_signature_valid)
            fprintf(f, ". It is the average of two recipients' copies (a collusion): the message "
                       "of recipient %u, title %u, verifies with the same key",
                    r->pair_payload.recipient_id, r->pair_payload.title_id);
        fputs(". The chance that a clip without this mark shows a mark this strong is ", f);
        put_p(f, r->false_alarm_log10);
        fputs(".", f);
        if (mismatch)
            fputs(" <strong>However, the clip's pictures do not match the title this message "
                  "was issued for: the mark may have been copied onto other video.</strong>", f);
        else if (tag_says_no)
            fprintf(f, " <strong>However, the mark's content tag says these are not the "
                       "pictures it was made for (binding z = %.1f where %.1f is expected if "
                       "bound): the mark may have been copied onto other video.</strong>",
                    r->bind_z, r->bind_expected_z);
        else if (not_bound)
            fputs(" <strong>Its binding to these pictures is not confirmed: too little of the "
                  "mark's content tag survives in this clip to tell, and no content "
                  "fingerprint of the issued title vouches for them.</strong>", f);
        else if (unaligned)
            fputs(r->content_bound
                  ? " <strong>The mark's content tag binds these pictures, but the content "
                    "fingerprint recorded for the issuance cannot be aligned with them: the "
                    "clip is a crop of the picture (enlarged, shrunk inside a larger frame, "
                    "or of another shape) that the fingerprint of whole pictures cannot "
                    "align. Unconfirmed.</strong>"
                  : " <strong>The content fingerprint recorded for the issuance cannot be "
                    "aligned with these pictures, and the mark's content tag can neither "
                    "confirm nor contradict them: the clip is a crop (enlarged, shrunk "
                    "inside a larger frame, or of another shape) that the fingerprint of "
                    "whole pictures cannot align, and it may have cut away the tagged "
                    "region. Unconfirmed.</strong>", f);
    } else if (r->found && r->signature_valid) {
        fputs("This clip carries a filmmark watermark whose signature verifies with the public "
              "key <span class=\"mono\">", f);
        fm_html_escape(f, in->key_fingerprint);
        fputs("</span>, but its payload is in a format this version does not read.", f);
    } else if (in->named) {
        fprintf(f, "The payload of this clip could not be decoded blind, but scored against "
                   "the issued messages it names %d recipient%s (section 9), each at a "
                   "false-alarm probability corrected for the messages tested.",
                in->nrecipients, in->nrecipients == 1 ? "" : "s");
        if (in->named == FM_REPORT_NAMED_UNBOUND)
            fputs(" <strong>However, the issuance's recorded content does not match these "
                  "pictures: the issued mark may have been copied onto other video.</strong>",
                  f);
        else if (in->named == FM_REPORT_NAMED_UNCONFIRMED && in->content_elsewhere)
            fputs(" <strong>However, these are the issued title's pictures of another "
                  "part of it than the mark's epochs say (section 8): the mark may have "
                  "been moved within the title. Unconfirmed.</strong>", f);
        else if (in->named == FM_REPORT_NAMED_UNCONFIRMED)
            fputs(" <strong>However, the issuance's recorded content fingerprint does not "
                  "align with these pictures (section 8): a crop or zoom of the issued "
                  "picture can cause that, and so can a mark copied onto other video. "
                  "Unconfirmed.</strong>", f);
    } else if (r->found) {
        fputs("A filmmark watermark is present in this clip (false-alarm probability ", f);
        put_p(f, r->false_alarm_log10);
        fputs("), but its payload could not be read with a valid signature: the recipient "
              "cannot be stated from this clip by blind decoding.", f);
        if (in->registry_consulted && in->nrecipients > 0)
            fprintf(f, " Scored against the issued messages, it names %d recipient%s "
                       "(section 9).", in->nrecipients, in->nrecipients == 1 ? "" : "s");
    } else {
        fputs("No filmmark watermark was found in this clip with the key", f);
        fputs(in->keys_tried == 1 ? "" : "s", f);
        fputs(" tried: the strongest evidence had a false-alarm probability of ", f);
        put_p(f, r->false_alarm_log10);
        fputs(", above the threshold of 10<sup>&minus;9</sup>.", f);
    }
    fputs("</p>\n", f);
}

static void put_analysed(FILE *f, const FmReportInput *in)
{
    const FmVideoInfo *v = in->info;
    fputs("<section id=\"analysed\"><h2>1. What was analysed</h2>\n<table>\n", f);
    row_text(f, "File", in->clip_path);
    row_begin(f, "SHA-256");
    fputs("<span class=\"mono\">", f);
    fm_html_escape(f, in->clip_sha256 ? in->clip_sha256 : "not computed");
    fputs("</span></td></tr>\n", f);
    row_begin(f, "Size");
    if (in->clip_bytes >= 0)
        fprintf(f, "%lld bytes", in->clip_bytes);
    else
        fputs("unknown", f);
    fputs("</td></tr>\n", f);
    row_begin(f, "Duration");
    put_seconds(f, v ? v->duration : 0);
    fputs("</td></tr>\n", f);
    if (v) {
        row_text(f, "Container", v->format_name ? v->format_name : "unknown");
        row_text(f, "Video codec", v->codec_name ? v->codec_name : "unknown");
        row_begin(f, "Picture");
        fprintf(f, "%d &times; %d pixels", v->width, v->height);
        AVRational sar = v->sample_aspect_ratio;
        if (sar.num > 0 && sar.den > 0 && sar.num != sar.den)
            fprintf(f, " (pixel aspect %d:%d)", sar.num, sar.den);
        const char *pf = av_get_pix_fmt_name(v->pix_fmt);
        fputs(", ", f);
        fm_html_escape(f, pf ? pf : "unknown format");
        fprintf(f, ", %d-bit</td></tr>\n", v->bit_depth);
        row_begin(f, "Frame rate");
        if (v->frame_rate.num > 0 && v->frame_rate.den > 0)
            fprintf(f, "%.3f frames/s (%d/%d)", av_q2d(v->frame_rate), v->frame_rate.num,
                    v->frame_rate.den);
        else
            fputs("unknown", f);
        fputs("</td></tr>\n", f);
    }
    row_begin(f, "Portion read");
    if (in->start > 0 || in->duration > 0) {
        fprintf(f, "from %.3f s", in->start);
        if (in->duration > 0)
            fprintf(f, ", at most %.3f s", in->duration);
        fputs("; ", f);
    } else if (in->read_limit > 0) {
        fprintf(f, "the first %.0f s of the clip (the default read limit; "
                   "<code>--duration</code> reads more); ", in->read_limit);
    } else {
        fputs("the whole clip; ", f);
    }
    fprintf(f, "%ld frames decoded</td></tr>\n</table></section>\n", in->result->frames_read);
}

static void put_how(FILE *f, const FmReportInput *in)
{
    char when[64] = "unknown";
    struct tm tm;
    if (in->analysed_at > 0 && gmtime_r(&in->analysed_at, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    fputs("<section id=\"how\"><h2>2. How it was analysed</h2>\n<table>\n", f);
    row_begin(f, "Tool");
    fputs("filmmark wmdetect ", f);
    fm_html_escape(f, in->tool_version ? in->tool_version : "(version unknown)");
    fputs("</td></tr>\n", f);
    row_begin(f, "Command line");
    fputs("<pre>", f);
    for (int i = 0; i < in->argc; i++) {
        if (i)
            fputc(' ', f);
        fm_html_escape(f, in->argv[i]);
    }
    fputs("</pre></td></tr>\n", f);
    row_text(f, "Analysis started", when);
    row_begin(f, "Keys tried");
    fprintf(f, "%d</td></tr>\n", in->keys_tried);
    fputs("</table>\n<p class=\"note\">Times in this report are Coordinated Universal Time "
          "(UTC). Times within the clip are seconds from its first frame.</p></section>\n", f);
}

static void put_mark(FILE *f, const FmReportInput *in)
{
    const FmDetectResult *r = in->result;
    char issued[32];
    fputs("<section id=\"mark\"><h2>3. The watermark and its signature</h2>\n", f);
    if (!r->found) {
        fputs("<p>No watermark was found, so there is no payload to report.</p>", f);
    }
    fputs("<table>\n", f);
    if (r->found && r->payload_valid) {
        fm_minutes_to_iso8601(r->payload.issued_minutes, issued, sizeof(issued));
        row_begin(f, "Title id");
        fprintf(f, "%u</td></tr>\n", r->payload.title_id);
        row_begin(f, "Recipient id");
        fprintf(f, "%u%s</td></tr>\n", r->payload.recipient_id,
                r->payload.recipient_id ? "" : " (general release)");
        row_text(f, "Issued", issued);
        if (r->signature_valid)
            row_text(f, "AI training use (signed)", fm_ai_use_text(r->payload.ai_use));
        row_begin(f, "Payload format");
        fprintf(f, "%u</td></tr>\n", r->payload.version);
        if (r->pair_signature_valid) {
            char other[32];
            fm_minutes_to_iso8601(r->pair_payload.issued_minutes, other, sizeof(other));
            row_begin(f, "Also signed (two copies averaged)");
            fprintf(f, "recipient %u, title %u, issued ", r->pair_payload.recipient_id,
                    r->pair_payload.title_id);
            fm_html_escape(f, other);
            fputs(": its signature verifies too</td></tr>\n", f);
        } else if (r->pair_read) {
            row_text(f, "Read as", "one of two copies averaged; the other copy's message does "
                                   "not verify");
        }
    } else if (r->found) {
        row_text(f, "Payload", "unreadable (too damaged to decode)");
    }
    row_begin(f, "Signature");
    fputs(r->signature_valid ? "<strong>valid</strong> (Ed25519)"
          : r->found ? "<strong>does not verify</strong>: the fields above may be damaged"
          : "none read", f);
    fputs("</td></tr>\n", f);
    row_begin(f, "Public key fingerprint");
    fputs("<span class=\"mono\">", f);
    fm_html_escape(f, in->key_fingerprint);
    fputs("</span></td></tr>\n", f);
    if (r->found) {
        row_begin(f, "Raw bit errors");
        fprintf(f, "%.1f %% of the coded bits before error correction</td></tr>\n",
                100 * r->raw_ber);
        row_begin(f, "Read from");
        fprintf(f, "%.2f s to %.2f s of the clip (%d of %d stretches)</td></tr>\n", r->span[0],
                r->span[1], r->segments_read, r->segments);
    }
    fputs("</table>\n<p class=\"note\">The key fingerprint is the first 8 bytes, in hex, of "
          "BLAKE2b-256(&quot;filmmark fingerprint v1&quot; &#8214; Ed25519 public key) "
          "(docs/KEYS.md): anyone holding the public key file can check it. A signature that "
          "verifies means the payload was issued by the holder of the matching secret key "
          "and was read without error; a chance verification on unmarked video would need "
          "an Ed25519 forgery (about 2<sup>&minus;122</sup> per clip).</p></section>\n", f);
}

static void put_probability(FILE *f, const FmReportInput *in)
{
    const FmDetectResult *r = in->result;
    long keys = in->keys_tried > 0 ? in->keys_tried : 1;
    double phases = FM_EPOCH_SECONDS / FM_WINDOW_SECONDS;
    double base = (double)keys * (r->segments > 0 ? r->segments : 1) * FM_EPOCHS * phases;
    double statistics = r->epoch_signs ? 2 : 1;   /* both searches counted */
    double geometries = base > 0 ? hypotheses_of(r) / base / statistics : 1;
    fputs("<section id=\"probability\"><h2>4. False-alarm probability</h2>\n<table>\n", f);
    row_begin(f, "False-alarm probability");
    fputs("<strong>p = ", f);
    put_p(f, r->false_alarm_log10);
    fprintf(f, "</strong> (log<sub>10</sub> p = %.1f)</td></tr>\n", r->false_alarm_log10);
    row_begin(f, "Pilot correlation");
    if (r->epoch_signs)
        fprintf(f, "z = %.2f (best stretch; each epoch read with its own sign: the normal "
                   "score of the chi-squared tail of the epochs' squared correlations)</td></tr>\n",
                r->pilot_z);
    else
        fprintf(f, "z = %.2f (best stretch)</td></tr>\n", r->pilot_z);
    if (r->epochs_inverted) {
        row_begin(f, "Epochs with the mark negated");
        fprintf(f, "%d: an estimate of the mark was subtracted too strongly there, or the "
                   "picture was inverted (an attempt to remove the mark)</td></tr>\n",
                r->epochs_inverted);
    }
    row_begin(f, "Hypotheses searched");
    if (hypotheses_of(r) < 1e15)
        fprintf(f, "H = %.0f", hypotheses_of(r));
    else  /* a perspective search's count */
        fprintf(f, "H = 10<sup>%.1f</sup>", log10(hypotheses_of(r)));
    fprintf(f, " = %ld key%s &times; %d stretch%s &times; %d epochs &times; %.0f phases "
               "&times; %.4g geometr%s%s</td></tr>\n",
            keys, keys == 1 ? "" : "s", r->segments, r->segments == 1 ? "" : "es",
            FM_EPOCHS, phases, geometries, geometries == 1 ? "y" : "ies",
            r->epoch_signs ? " &times; 2 statistics (coherent and per-epoch signs)" : "");
    row_begin(f, "Threshold");
    fprintf(f, "p &le; 10<sup>&minus;9</sup>, here z &ge; %.2f</td></tr>\n",
            fm_report_z_for(FM_FALSE_ALARM_THRESHOLD, hypotheses_of(r)));
    fputs("</table>\n", f);
    fputs("<p>How it is computed. The watermark carries a keyed pilot signal that changes "
          "every 2 seconds (an <em>epoch</em>). The detector correlates the clip's pictures "
          "with the pilot and normalises the sum by its own energy, giving a score z. For "
          "video that does not carry this key's mark, the pilot's keyed signs are unrelated "
          "to the pictures, so z follows the standard normal distribution, and the chance "
          "of a score of at least z is the normal tail Q(z).</p>\n", f);
    if (r->epoch_signs)
        fputs("<p>This clip was read with each epoch's own sign. Subtracting an estimate of "
              "the mark too strongly negates it, and where some epochs are negated and "
              "others not the plain sum cancels although every epoch still carries the mark. "
              "The detector therefore also scores the sum of the epochs' squared "
              "correlations, which for video without this key's mark follows the "
              "chi-squared distribution with one degree of freedom per epoch; the z above "
              "is the normal score of that chi-squared tail, and H counts both scores "
              "searched (twice the alignments).</p>\n", f);
    fputs("<p>The detector does not know where in the film the clip comes from, nor how it "
          "was framed, so it tries many alignments and keeps the best one. Each alignment "
          "tried is one more chance for unmarked video to score high by luck, so Q(z) is "
          "multiplied by the number tried (the Bonferroni correction): "
          "<strong>p = Q(z) &times; H</strong>, where H counts every key tried, every "
          "stretch of up to 10 seconds of the clip searched separately, each of the 4096 "
          "epochs the stretch could start at (the pilot repeats only after 4096 epochs, "
          "2 h 16 min), the 4 positions of the epoch boundaries within the stretch, and the "
          "geometries (crops, scales, flips, rotations) searched; the geometry count is 1 "
          "when the clip shows the whole marked picture. The correction is conservative: "
          "the hypotheses overlap, so the true chance is smaller than p. The method and "
          "its measured behaviour on unmarked video are in docs/DESIGN.md of filmmark.</p>"
          "</section>\n", f);
}

/* Ticks at 1, 2 or 5 times a power of ten, about n over [0, span]. */
static double tick_step(double span, int n)
{
    double raw = span / (n > 0 ? n : 1);
    double p = pow(10, floor(log10(raw > 0 ? raw : 1)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void put_plot(FILE *f, const FmReportInput *in)
{
    const FmStrengthTrace *tr = in->trace;
    const FmDetectResult *r = in->result;
    fputs("<section id=\"strength\"><h2>5. Detection strength over the clip's time</h2>\n", f);
    if (!tr || tr->n == 0) {
        fputs("<p>No strength trace was recorded.</p></section>\n", f);
        return;
    }
    const double W = 880, H = 300, L = 50, R = 20, T = 20, B = 45;
    double tmax = 0, zmax = 0, zmin = 0;
    /* a group's last frame is shown for one frame interval */
    double dt = in->info && in->info->frame_rate.num > 0 && in->info->frame_rate.den > 0
                ? 1 / av_q2d(in->info->frame_rate) : 0;
    double zthr = fm_report_z_for(FM_FALSE_ALARM_THRESHOLD, hypotheses_of(r));
    for (int i = 0; i < tr->n; i++) {
        const FmStrengthPoint *p = &tr->points[i];
        tmax = fmax(tmax, p->t1 + dt);
        zmax = fmax(zmax, fmax(p->z, p->stretch_z));
        zmin = fmin(zmin, fmin(p->z, p->stretch_z));
    }
    if (in->info && in->info->duration > tmax && in->start <= 0 && in->duration <= 0)
        tmax = in->info->duration;
    zmax = fmax(zmax, zthr) * 1.08 + 0.5;
    zmin = zmin < 0 ? zmin * 1.08 - 0.5 : 0;
    if (tmax <= 0)
        tmax = 1;
    double pw = W - L - R, ph = H - T - B;
#define X(t) (L + (t) / tmax * pw)
#define Y(z) (T + (zmax - (z)) / (zmax - zmin) * ph)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-labelledby=\"plot-title\">\n"
               "<title id=\"plot-title\">Pilot correlation z per epoch and per stretch over "
               "the clip's time</title>\n", W, H, W, H);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
               "stroke=\"#999\"/>\n", L, T, pw, ph);
    /* grid and ticks */
    double zs = tick_step(zmax - zmin, 6), ts = tick_step(tmax, 10);
    for (double z = ceil(zmin / zs) * zs; z <= zmax; z += zs)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e2e2e2\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, L + pw, Y(z), Y(z), L - 6, Y(z) + 4, fabs(z) < 1e-9 ? 0 : z);
    for (double t = 0; t <= tmax + 1e-9; t += ts)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                X(t), X(t), T + ph, T + ph + 5, X(t), T + ph + 18, t);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">clip time (seconds)</text>\n",
            L + pw / 2, H - 6);
    fprintf(f, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">"
               "pilot z</text>\n", T + ph / 2);
    /* per-epoch bars */
    for (int i = 0; i < tr->n; i++) {
        const FmStrengthPoint *p = &tr->points[i];
        double x0 = X(p->t0), x1 = X(p->t1 + dt);
        double y0 = Y(fmax(p->z, 0)), y1 = Y(fmin(p->z, 0));
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                   "<title>%.2f-%.2f s: z = %.2f</title></rect>\n",
                x0 + 1, y0, fmax(x1 - x0 - 2, 0.5), fmax(y1 - y0, 0.5),
                p->read ? "#4a7fb5" : "#b8c4d0", p->t0, p->t1, p->z);
    }
    /* per-stretch line */
    for (int i = 0; i < tr->n; i++) {
        const FmStrengthPoint *p = &tr->points[i];
        if (i && tr->points[i - 1].stretch == p->stretch)
            continue;
        int j = i;
        while (j + 1 < tr->n && tr->points[j + 1].stretch == p->stretch)
            j++;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                   "stroke-width=\"2.5\"/>\n",
                X(p->t0), X(tr->points[j].t1 + dt), Y(p->stretch_z), Y(p->stretch_z));
    }
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
               "stroke-dasharray=\"6 4\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
               "threshold z = %.2f (p = 10&#8315;&#8313;)</text>\n",
            L, L + pw, Y(zthr), Y(zthr), L + pw - 4, Y(zthr) - 5, zthr);
    fputs("</svg>\n", f);
#undef X
#undef Y
    fputs("<p class=\"note\">Bars: the pilot correlation z of each 2-second epoch on its own "
          "(dark: a stretch the payload was read from; light: not used). Red lines: the z of "
          "each stretch of up to 10 seconds under its best alignment, the figure the "
          "false-alarm probability is computed from. Dashed: the z a stretch needs for "
          "p &le; 10<sup>&minus;9</sup> after the correction of section 4. Without the mark, "
          "a bar is about 0 &plusmn; 1, and a stretch's z, the best of the alignments tried "
          "in it, typically about ", f);
    double per_stretch = hypotheses_of(r) / (r->segments > 0 ? r->segments : 1);
    fprintf(f, "%.1f (the median of the best of %.0f normal scores).",
            fm_report_z_for(M_LN2, per_stretch), per_stretch);
    if (r->geometry.searched && tr->points[tr->n - 1].t1 + 1 < tmax)
        fprintf(f, " The clip was reframed: only its first %.0f seconds keep the evidence "
                   "needed to read them under the geometry found, so the plot ends there.",
                FM_FINE_WINDOWS * FM_WINDOW_SECONDS);
    if (r->epoch_signs)
        fputs(" The clip was read with each epoch's own sign (section 4): an epoch far below "
              "zero carries the mark negated and counts as much as one far above.", f);
    if (tr->truncated)
        fputs(" The clip had more epochs than the plot holds: the later ones are left out.", f);
    fputs("</p></section>\n", f);
}

static void put_thumbs(FILE *f, const FmReportInput *in)
{
    fputs("<section id=\"frames\"><h2>6. Frames at the strongest segments</h2>\n", f);
    if (in->nthumbs <= 0) {
        fputs("<p>No frames were kept.</p></section>\n", f);
        return;
    }
    for (int i = 0; i < in->nthumbs; i++) {
        const FmThumbnail *t = &in->thumbs[i];
        size_t b64len = sodium_base64_ENCODED_LEN(t->size, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(b64len);
        if (!b64)
            continue;
        sodium_bin2base64(b64, b64len, t->jpeg, t->size, sodium_base64_VARIANT_ORIGINAL);
        fprintf(f, "<figure><img width=\"%d\" height=\"%d\" alt=\"frame at %.2f s\" "
                   "src=\"data:image/jpeg;base64,%s\"><figcaption>%.2f s",
                t->width, t->height, t->t_frame, b64, t->t_frame);
        if (in->thumb_z)
            fprintf(f, " &middot; epoch z = %.1f", in->thumb_z[i]);
        fputs("</figcaption></figure>\n", f);
        free(b64);
    }
    fputs("<p class=\"note\">Decoded from the clip itself at the middle of the epochs with the "
          "strongest pilot correlation, reduced in size.</p></section>\n", f);
}

static void put_geometry(FILE *f, const FmReportInput *in)
{
    const FmDetectResult *r = in->result;
    const FmGeometry *g = &r->geometry;
    fputs("<section id=\"geometry\"><h2>7. Geometry and position</h2>\n<table>\n", f);
    row_text(f, "Found by",
             g->perspective ? "the geometry search, through a perspective map (the picture "
                              "was seen at an angle: figures below at the clip's centre)"
             : g->searched  ? "the geometry search (the clip was reframed)"
                            : "the nominal grid (the whole marked picture, any uniform scale)");
    row_begin(f, "Scale");
    fprintf(f, "%.3f &times; %.3f (1 = the marked picture's height fills the clip's)</td></tr>\n",
            g->scale_x, g->scale_y);
    row_begin(f, "Offset");
    fprintf(f, "(%.1f, %.1f) clip pixels</td></tr>\n", g->offset_x, g->offset_y);
    row_text(f, "Flip", flip_text(g));
    row_begin(f, "Rotation");
    fprintf(f, "%.1f&deg;</td></tr>\n", g->rotation_deg);
    if (r->signature_valid && fm_format_binds(r->mark_format)) {
        row_begin(f, "Bound to picture");
        if (r->content_bound)
            fputs("yes: the mark's content tag matches these pictures", f);
        else if (!r->bind_pairs)
            fputs("not checked (needs two consecutive 2-s epochs of picture that is not flat)",
                  f);
        else if (r->content_mismatch)
            fputs("<strong>no</strong>: the mark carries another picture's content tag", f);
        else
            fputs("not confirmed (too little of the tag survives to tell)", f);
        if (r->bind_pairs)
            fprintf(f, "; z = %.1f over %d epoch%s (%.1f expected if bound), agreement %.2f",
                    r->bind_z, r->bind_pairs, r->bind_pairs == 1 ? "" : "s",
                    r->bind_expected_z, r->bind_agreement);
        fputs("</td></tr>\n", f);
    }
    if (r->found) {
        long pos = lround(r->master_position);
        row_begin(f, "Position in the marked master");
        fprintf(f, "the clip starts near %ld:%02ld:%02ld (&plusmn; %.1f s, modulo 2 h 16 min)"
                   "</td></tr>\n", pos / 3600, pos / 60 % 60, pos % 60, FM_WINDOW_SECONDS);
    }
    fputs("</table></section>\n", f);
}

static void put_content(FILE *f, const FmReportInput *in)
{
    fputs("<section id=\"content\"><h2>8. Receipt and content match</h2>\n", f);
    if (!in->receipt_path && !in->content) {
        fputs("<p>No receipt was given (<code>--receipt</code>) and no registry row recorded a "
              "content fingerprint for the message found: the clip was not compared with the "
              "issued title's pictures.</p></section>\n", f);
        return;
    }
    fputs("<table>\n", f);
    if (in->receipt_path) {
        row_text(f, "Receipt", in->receipt_path);
        row_text(f, "Decoded message equals the receipt's", in->receipt_match ? "yes" : "no");
        row_begin(f, "Informed score");
        if (isfinite(in->receipt_z)) {
            fprintf(f, "z = %.2f for the best-scoring issued message, on what tells it from "
                       "the title's other messages (false-alarm probability ", in->receipt_z);
            put_p(f, in->receipt_log10_p);
            fputs(", corrected for the messages tested)", f);
        } else {
            fputs("not scored", f);
        }
        fputs("</td></tr>\n", f);
    } else {
        row_text(f, "Receipt", "none given");
    }
    if (in->content)
        row_text(f, "Content fingerprint compared",
                 in->content_from_registry
                 ? "the one the registry recorded when this message was issued (section 9)"
                 : "the one the receipt records");
    row_begin(f, "Content match");
    const FmFpMatch *m = in->content;
    if (!m) {
        fputs("not checked (the receipt records no content fingerprint, or no signature "
              "verified)", f);
    } else if (m->verdict == FM_FP_TOO_SHORT) {
        fputs("undecided: too little picture to compare", f);
    } else if (in->content_elsewhere) {
        fprintf(f, "<strong>no, not where the mark says</strong>: these are the issued title's "
                   "pictures of master %.0f s to %.0f s (%.0f %% of the fingerprint bits agree; "
                   "false-match probability ", m->master_from, m->master_to, 100 * m->score);
        put_p(f, m->log10_p);
        fprintf(f, "), but the mark places the clip at %.0f s of the master: the mark was not "
                   "made for these pictures (moved within the title, or pasted on a shot that "
                   "goes on past the marked part?)", in->content_mark_at);
    } else if (m->match) {
        fprintf(f, "<strong>yes</strong>: the issued title's pictures (master %.0f s to %.0f s "
                   "matched clip %.1f s to %.1f s; %.0f %% of the fingerprint bits agree; "
                   "false-match probability ", m->master_from, m->master_to, m->clip_from,
                m->clip_to, 100 * m->score);
        put_p(f, m->log10_p);
        fputs(" after counting the alignments tried)", f);
        if (in->content_place)
            fprintf(f, "; %s %.0fx%.0f at (%.0f, %.0f), and was compared there: one of %d "
                       "places the mark's geometry allows, all counted in the probability",
                    in->content_place->inside
                        ? "the issued picture is shown inside the frame,"
                        : "the clip is a crop of the issued picture, whose whole frame would be",
                    in->content_place->w, in->content_place->h, in->content_place->x,
                    in->content_place->y, in->content_places);
    } else {
        fprintf(f, "<strong>no</strong>: the best alignment with the issued title agrees on "
                   "%.0f %% of bits (false-match probability ", 100 * m->score);
        put_p(f, m->log10_p);
        fputs(", what unrelated pictures give): the mark may have been copied onto other video", f);
    }
    fputs("</td></tr>\n</table></section>\n", f);
}

static void put_registry(FILE *f, const FmReportInput *in)
{
    fputs("<section id=\"recipients\"><h2>9. Named recipients</h2>\n", f);
    if (!in->registry_consulted) {
        fputs("<p id=\"no-registry\"><strong>No registry consulted.</strong> The recipient "
              "above is the one the signed payload names, read blind from the clip; no "
              "registry of issued marks was searched for other or colluding recipients.</p>"
              "</section>\n", f);
    } else {
        fputs("<p>Registry: <span class=\"mono\">", f);
        fm_html_escape(f, in->registry);
        fputs("</span></p>\n", f);
        if (in->nrecipients <= 0) {
            fputs("<p>The registry names no recipient for this clip.</p>", f);
        } else {
            fputs("<table>\n<tr><th>Recipient</th><th>Name</th><th>Identified by</th>"
                  "<th>z</th><th>False-alarm probability</th><th>Issued</th></tr>\n", f);
            for (int i = 0; i < in->nrecipients; i++) {
                const FmReportRecipient *c = &in->recipients[i];
                fputs("<tr><td>", f);
                fm_html_escape(f, c->recipient_id);
                fputs("</td><td>", f);
                fm_html_escape(f, c->name);
                fputs("</td><td>", f);
                fm_html_escape(f, c->identified_by);
                fputs("</td><td>", f);
                if (isfinite(c->z))
                    fprintf(f, "%.2f", c->z);
                fputs("</td><td>", f);
                put_p(f, c->false_alarm_log10);
                fputs("</td><td>", f);
                fm_html_escape(f, c->issued);
                fputs("</td></tr>\n", f);
            }
            fputs("</table>\n", f);
        }
        fputs("</section>\n", f);
    }
    fputs("<section id=\"receipts\"><h2>10. Receipts of the named recipients</h2>\n", f);
    if (!in->registry_consulted) {
        fputs("<p>No registry consulted.</p></section>\n", f);
        return;
    }
    int any = 0;
    for (int i = 0; i < in->nrecipients; i++) {
        const FmReportRecipient *c = &in->recipients[i];
        if (!c->receipt && !c->output_sha256)
            continue;
        any = 1;
        fputs("<h3>Recipient ", f);
        fm_html_escape(f, c->recipient_id);
        fputs("</h3>\n", f);
        if (c->output_sha256) {
            fputs("<p>SHA-256 of the deliverable issued: <span class=\"mono\">", f);
            fm_html_escape(f, c->output_sha256);
            fputs("</span></p>\n", f);
        }
        if (c->receipt) {
            fputs("<pre>", f);
            fm_html_escape(f, c->receipt);
            fputs("</pre>\n", f);
        }
    }
    if (!any)
        fputs("<p>The receipts of the recipients named are kept in the registry "
              "(<code>wmregistry show</code>).</p>", f);
    fputs("</section>\n", f);
}

int fm_report_write(FILE *f, const FmReportInput *in, FmError *err)
{
    if (!f || !in || !in->result)
        return fm_error_set(err, FM_EINVAL, "fm_report_write: nothing to report");
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta name=\"generator\" content=\"filmmark wmdetect\">\n<title>Watermark "
          "evidence report: ", f);
    const char *base = in->clip_path ? strrchr(in->clip_path, '/') : NULL;
    fm_html_escape(f, base ? base + 1 : in->clip_path);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n"
               "<h1>Watermark evidence report</h1>\n<p class=\"sub\">filmmark forensic "
               "watermark &middot; clip <span class=\"mono\">", CSS);
    fm_html_escape(f, base ? base + 1 : in->clip_path);
    fputs("</span></p>\n</header>\n<main>\n", f);
    put_verdict(f, in);
    put_analysed(f, in);
    put_how(f, in);
    put_mark(f, in);
    put_probability(f, in);
    put_plot(f, in);
    put_thumbs(f, in);
    put_geometry(f, in);
    put_content(f, in);
    put_registry(f, in);
    fputs("</main>\n<footer><p class=\"note\">This report is one self-contained file: it loads "
          "nothing from elsewhere. The analysis can be repeated with the same tool version, "
          "command line and detection key on the file of the SHA-256 above.</p></footer>\n"
          "</body>\n</html>\n", f);
    if (ferror(f))
        return fm_error_set(err, FM_EIO, "cannot write the report");
    return 0;
}

int fm_report_make(const char *path, const FmReportInput *in, FmError *err)
{
    FmReportInput full = *in;
    char sha[65];
    FmThumbnail thumbs[FM_REPORT_THUMBS];
    double times[FM_REPORT_THUMBS], zs[FM_REPORT_THUMBS];
    int nthumbs = 0, ret;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = NULL;
    FmTempFile tmp = { .fd = -1 };

    memset(thumbs, 0, sizeof(thumbs));
    if (!full.clip_sha256) {
        if ((ret = fm_sha256_file(in->clip_path, sha, err)) < 0)
            return ret;
        full.clip_sha256 = sha;
    }
    if (full.clip_bytes < 0) {
        struct stat st;
        if (stat(in->clip_path, &st) < 0)
            return fm_error_set(err, FM_EIO, "cannot stat '%s'", in->clip_path);
        full.clip_bytes = (long long)st.st_size;
    }
    if (full.nthumbs <= 0 && in->trace) {
        nthumbs = fm_report_pick_times(in->trace, FM_REPORT_THUMBS, FM_EPOCH_SECONDS, times,
                                       zs);
        if ((ret = fm_thumbnails_grab(in->clip_path, times, nthumbs, FM_REPORT_THUMB_WIDTH,
                                      FM_REPORT_THUMB_QUALITY, thumbs, err)) < 0)
            goto end;
        full.thumbs = thumbs;
        full.thumb_z = zs;
        full.nthumbs = nthumbs;
    }
    if (!(mem = open_memstream(&buf, &len))) {
        ret = fm_error_set(err, FM_ENOMEM, "out of memory writing the report");
        goto end;
    }
    ret = fm_report_write(mem, &full, err);
    if (fclose(mem) != 0 && ret == 0)
        ret = fm_error_set(err, FM_ENOMEM, "out of memory writing the report");
    mem = NULL;
    if (ret < 0)
        goto end;
    if ((ret = fm_temp_open(&tmp, path, 0644, 1, err)) < 0 ||
        (ret = fm_temp_write(&tmp, buf, len, err)) < 0 || (ret = fm_temp_sync(&tmp, err)) < 0 ||
        (ret = fm_temp_publish(&tmp, path, err)) < 0)
        goto end;
    ret = 0;
end:
    fm_temp_discard(&tmp);
    free(buf);
    for (int i = 0; i < nthumbs; i++)
        fm_thumbnail_free(&thumbs[i]);
    return ret;
}
