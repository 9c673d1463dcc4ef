/*
 * test_report.c - the evidence report: HTML escaping, the writer's page
 * (every section, balanced tags, nothing from outside unescaped, the
 * registry sections), the strength trace fm_detect_trace() gives, the
 * thumbnails, and the whole report rendered in headless chromium
 * (tests/report_browser.sh).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>

#include "accumulator.h"
#include "detector.h"
#include "embedder.h"
#include "keys.h"
#include "pattern.h"
#include "payload.h"
#include "report.h"
#include "testutil.h"
#include "thumbnail.h"

static void setup(void)
{
    FmError err = { { 0 } };
    cr_assert_eq(fm_init(&err), 0, "%s", err.msg);
}

TestSuite(report, .init = setup, .timeout = 300);

/* fm_html_escape into a malloc'd string */
static char *escaped(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    fm_html_escape(f, s);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

/* ---- escaping ---- */

static const struct {
    const char *in, *want;
} escape_cases[] = {
    { "plain name.mkv", "plain name.mkv" },
    { "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;" },
    { "a & b", "a &amp; b" },
    { "\"><img src=x onerror=alert(1)>", "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" },
    { "it's", "it&#39;s" },
    { "&amp;", "&amp;amp;" },
    { "tab\tnew\nline", "tab\tnew\nline" },
    { "bell\x07" "esc\x1b" "del\x7f", "bell\xEF\xBF\xBD" "esc\xEF\xBF\xBD" "del\xEF\xBF\xBD" },
    /* valid UTF-8 passes: Zoë, a snowman, a clapper board */
    { "Zo\xC3\xAB \xE2\x98\x83 \xF0\x9F\x8E\xAC", "Zo\xC3\xAB \xE2\x98\x83 \xF0\x9F\x8E\xAC" },
    /* invalid UTF-8: a lone byte, an overlong '<', a surrogate, a cut sequence */
    { "a\xFFz", "a\xEF\xBF\xBDz" },
    { "\xC0\xBC", "\xEF\xBF\xBD\xEF\xBF\xBD" },
    { "\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
    { "x\xE2\x98", "x\xEF\xBF\xBD\xEF\xBF\xBD" },
    { "", "" },
};

Test(report, html_escape_table)
{
    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        char *got = escaped(escape_cases[i].in);
        cr_assert_str_eq(got, escape_cases[i].want, "case %zu: '%s'", i, escape_cases[i].in);
        free(got);
    }
    char *none = escaped(NULL);
    cr_assert_str_eq(none, "");
    free(none);
}

Test(report, html_escape_leaves_no_markup_in_any_byte_string)
{
    /* random bytes: the output never holds < > " ' nor an & that does not start
     * one of our entities */
    TuRng rng;
    tu_rng_seed(&rng, 9);
    char in[257];
    for (int round = 0; round < 2000; round++) {
        int n = (int)tu_rng_below(&rng, 256);
        for (int i = 0; i < n; i++)
            in[i] = (char)(1 + tu_rng_below(&rng, 255));
        in[n] = 0;
        char *out = escaped(in);
        for (const char *p = out; *p; p++) {
            cr_assert(*p != '<' && *p != '>' && *p != '"' && *p != '\'', "round %d", round);
            if (*p == '&')
                cr_assert(!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) ||
                          !strncmp(p, "&gt;", 4) || !strncmp(p, "&quot;", 6) ||
                          !strncmp(p, "&#39;", 5), "round %d: stray &", round);
        }
        free(out);
    }
}

/* ---- the page ---- */

/* Checks that the non-void elements of html nest properly (a small tag
 * parser: enough for what the writer emits, which quotes every attribute). */
static void expect_balanced(const char *html)
{
    static const char *const voids[] = { "meta", "img", "br", "hr", "link", "input", NULL };
    char stack[256][16];
    int depth = 0;
    for (const char *p = html; (p = strchr(p, '<')); p++) {
        if (!strncmp(p, "<!DOCTYPE", 9))
            continue;
        int closing = p[1] == '/';
        const char *n = p + 1 + closing;
        char name[16];
        int len = 0;
        while (isalnum((unsigned char)n[len]) && len < 15) {
            name[len] = (char)tolower((unsigned char)n[len]);
            len++;
        }
        name[len] = 0;
        cr_assert_gt(len, 0, "a '<' that starts no tag at offset %td", p - html);
        /* the end of the tag: '>' outside quotes */
        const char *q = n + len;
        int quoted = 0;
        while (*q && (quoted || *q != '>')) {
            if (*q == '"')
                quoted = !quoted;
            q++;
        }
        cr_assert_eq(*q, '>', "tag <%s> not closed", name);
        int self_closed = q[-1] == '/';
        int is_void = 0;
        for (int i = 0; voids[i]; i++)
            is_void |= !strcmp(name, voids[i]);
        if (closing) {
            cr_assert_gt(depth, 0, "</%s> with nothing open", name);
            cr_assert_str_eq(stack[depth - 1], name, "</%s> closes <%s>", name, stack[depth - 1]);
            depth--;
        } else if (!is_void && !self_closed) {
            cr_assert_lt(depth, 256);
            strcpy(stack[depth++], name);
        }
    }
    cr_assert_eq(depth, 0, "%d elements left open (innermost <%s>)", depth,
                 depth ? stack[depth - 1] : "");
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

#define HOSTILE "<script>alert(\"x\")</script>'\"><img src=x onerror=alert(1)>&"

typedef struct Fixture {
    FmDetectResult res;
    FmVideoInfo info;
    FmStrengthPoint pts[8];
    FmStrengthTrace trace;
    FmThumbnail thumb;
    double thumb_z;
    FmFpMatch content;
    FmReportRecipient rec[2];
    char *argv[6];
    FmReportInput in;
} Fixture;

/* A marked result as the detector gives it, with hostile strings wherever
 * the outside world supplies one. */
static void fixture(Fixture *x)
{
    memset(x, 0, sizeof(*x));
    x->res = (FmDetectResult){
        .found = 1, .signature_valid = 1, .payload_valid = 1,
        .payload = { .version = FM_PAYLOAD_VERSION, .title_id = 42, .recipient_id = 7,
                     .issued_minutes = 29000000u },
        .pilot_z = 28.8, .segments = 1, .segments_read = 1, .frames_read = 80,
        .span = { 0, 7.9 }, .geometry = { .scale_x = 1, .scale_y = 1 },
    };
    x->res.hypotheses = (long)FM_EPOCHS * 4;
    x->res.false_alarm_log10 = fm_gauss_tail_log10(x->res.pilot_z) +
                               log10((double)x->res.hypotheses);
    x->res.false_alarm_probability = pow(10, x->res.false_alarm_log10);
    x->info = (FmVideoInfo){ .width = 768, .height = 576, .pix_fmt = AV_PIX_FMT_YUV420P,
                             .bit_depth = 8, .frame_rate = { 10, 1 }, .duration = 8,
                             .codec_name = "vp9", .format_name = "matroska,webm",
                             .sample_aspect_ratio = { 1, 1 } };
    for (int i = 0; i < 4; i++)
        x->pts[i] = (FmStrengthPoint){ .t0 = 2.0 * i, .t1 = 2.0 * i + 1.9, .z = 14 + 0.2 * i,
                                       .stretch = 0, .stretch_z = 28.8, .read = 1 };
    x->trace = (FmStrengthTrace){ .points = x->pts, .cap = 8, .n = 4 };
    /* a tiny real JPEG for the thumbnail */
    AVFrame *f = av_frame_alloc();
    cr_assert(f);
    f->format = AV_PIX_FMT_YUV420P;
    f->width = 64;
    f->height = 48;
    cr_assert_eq(av_frame_get_buffer(f, 0), 0);
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < (p ? 24 : 48); y++)
            memset(f->data[p] + y * f->linesize[p], p ? 128 : 16 + 4 * y, p ? 32 : 64);
    FmError err = { { 0 } };
    cr_assert_eq(fm_thumbnail_encode(f, 32, 6, &x->thumb, &err), 0, "%s", err.msg);
    av_frame_free(&f);
    x->thumb.t = x->thumb.t_frame = 3.0;
    x->thumb_z = 14.2;
    x->content = (FmFpMatch){ .verdict = FM_FP_MATCH, .match = 1, .log10_p = -46.3, .score = 1,
                              .master_to = 8, .clip_to = 8 };
    x->rec[0] = (FmReportRecipient){ .recipient_id = "7", .name = "Critic " HOSTILE,
                                     .identified_by = "blind", .z = 88.7,
                                     .false_alarm_log10 = -1700, .issued = "2026-12-02T02:02Z",
                                     .output_sha256 = "ab" HOSTILE,
                                     .receipt = "{\"r\": \"" HOSTILE "\"}" };
    x->rec[1] = (FmReportRecipient){ .recipient_id = "8" HOSTILE, .name = NULL,
                                     .identified_by = "registry", .z = NAN,
                                     .false_alarm_log10 = -12 };
    x->argv[0] = "wmdetect";
    x->argv[1] = "--report";
    x->argv[2] = "r.html";
    x->argv[3] = "clip " HOSTILE ".mkv";
    x->in = (FmReportInput){
        .clip_path = "dir/clip " HOSTILE ".mkv",
        .clip_sha256 = "3efb7ae692d0cf6fe99280d3c4075bdf1a52eb8461988fe4d486151421edd6f6",
        .clip_bytes = 887698, .info = &x->info, .tool_version = "0.1.0 " HOSTILE,
        .argc = 4, .argv = x->argv, .analysed_at = 1796176977, /* 2026-12-02 02:02:57 UTC */
        .keys_tried = 1, .result = &x->res, .key_fingerprint = "95eca1bc89a8648c",
        .trace = &x->trace, .receipt_path = "receipts/" HOSTILE ".json", .content = &x->content,
        .thumbs = &x->thumb, .thumb_z = &x->thumb_z, .nthumbs = 1,
        .receipt_match = 1, .receipt_z = 35.47, .receipt_log10_p = -275,
    };
}

static char *page(const FmReportInput *in)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    FmError err = { { 0 } };
    cr_assert_eq(fm_report_write(f, in, &err), 0, "%s", err.msg);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(strlen(buf), len, "a NUL inside the page");
    return buf;
}

static void expect_no_injection(const char *html)
{
    cr_assert_null(strstr(html, "<script"), "a script element");
    cr_assert_null(strstr(html, "<img src=x"), "an injected element");
    /* the handler appears only inside the escaped text */
    for (const char *p = html; (p = strstr(p, "onerror=")); p++)
        cr_assert(p - html >= 14 && !strncmp(p - 14, "&lt;img src=x ", 14),
                  "an event handler outside text");
    /* the hostile strings are there, as text */
    cr_assert_gt(count(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&gt;"
                             "&lt;img src=x onerror=alert(1)&gt;&amp;"), 0);
}

Test(report, page_has_every_section_in_order_and_balanced_tags)
{
    Fixture x;
    fixture(&x);
    char *html = page(&x.in);
    cr_assert_eq(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 31), 0);
    size_t n = strlen(html);
    cr_assert_str_eq(html + n - 8, "</html>\n");
    expect_balanced(html);
    static const char *const ids[] = { "verdict", "analysed", "how", "mark", "probability",
                                       "strength", "frames", "geometry", "content",
                                       "recipients", "receipts" };
    const char *prev = html;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "id=\"%s\"", ids[i]);
        const char *at = strstr(html, want);
        cr_assert(at, "no %s", want);
        cr_assert_gt(at, prev, "%s out of order", want);
        prev = at;
    }
    cr_assert_eq(count(html, "<section"), 10);
    cr_assert_eq(count(html, "<svg"), 1);
    cr_assert_eq(count(html, "<rect"), 1 + 4, "the frame and one bar per epoch");
    cr_assert_eq(count(html, "src=\"data:image/jpeg;base64,/9j/"), 1, "the JPEG, inline");
    /* what was analysed, in the words the brief asks for */
    cr_assert(strstr(html, "3efb7ae692d0cf6fe99280d3c4075bdf1a52eb8461988fe4d486151421edd6f6"));
    cr_assert(strstr(html, "887698 bytes"));
    cr_assert(strstr(html, "8.000 s"));
    cr_assert(strstr(html, "matroska,webm"));
    cr_assert(strstr(html, "768 &times; 576 pixels"));
    cr_assert(strstr(html, "10.000 frames/s"));
    cr_assert(strstr(html, "2026-12-02 02:02:57 UTC"));
    cr_assert(strstr(html, "95eca1bc89a8648c"));
    cr_assert(strstr(html, "H = 16384 = 1 key &times; 1 stretch &times; 4096 epochs &times; 4 "
                           "phases &times; 1 geometry"));
    cr_assert(strstr(html, "<strong>valid</strong>"));
    cr_assert(strstr(html, "title 42, recipient 7"));
    cr_assert(strstr(html, "<td>yes</td>"), "the decode is the receipt's message");
    cr_assert(strstr(html, "z = 35.47 for the best-scoring issued message"));
    /* nothing fetched, nothing run */
    cr_assert_null(strstr(html, "http:/"  "/www.w3.org/1999"), "only the SVG namespace is a URL");
    cr_assert_eq(count(html, "http"), 1, "the SVG namespace only");
    cr_assert_null(strstr(html, "<link"));
    cr_assert_null(strstr(html, "url("));
    expect_no_injection(html);
    /* no registry: both registry sections say so */
    cr_assert(strstr(html, "id=\"no-registry\""));
    cr_assert_eq(count(html, "No registry consulted"), 2);
    free(html);
    fm_thumbnail_free(&x.thumb);
}

Test(report, named_recipients_and_receipts_when_a_registry_is_given)
{
    Fixture x;
    fixture(&x);
    x.in.registry_consulted = 1;
    x.in.registry = "/var/lib/" HOSTILE ".sqlite";
    x.in.recipients = x.rec;
    x.in.nrecipients = 2;
    char *html = page(&x.in);
    expect_balanced(html);
    expect_no_injection(html);
    cr_assert_null(strstr(html, "No registry consulted"));
    cr_assert_eq(count(html, "<tr><td>"), 2, "one row per named recipient");
    cr_assert(strstr(html, "<td>Critic &lt;script&gt;"));
    cr_assert(strstr(html, "<td>88.70</td>"));
    cr_assert(strstr(html, "<h3>Recipient 7</h3>"));
    cr_assert(strstr(html, "<pre>{&quot;r&quot;: &quot;&lt;script&gt;"), "the receipt, escaped");
    free(html);
    fm_thumbnail_free(&x.thumb);
}

Test(report, verdicts_in_plain_words)
{
    Fixture x;
    fixture(&x);
    char *html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict found\""));
    cr_assert(strstr(html, "This clip carries a filmmark watermark whose signed payload verifies"));
    free(html);

    x.content.verdict = FM_FP_NO_MATCH;
    x.content.match = 0;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict mismatch\""));
    cr_assert(strstr(html, "do not match the title this message was issued for"));
    free(html);

    /* a format-6 mark whose content tag contradicts the pictures: a
     * transplant unless the issued title's fingerprint vouches for them
     * where the mark says (wmdetect exits 4 / 0 alike) */
    x.res.mark_format = 6;
    x.res.content_bound = 0;
    x.res.content_mismatch = 1;
    x.res.bind_pairs = 5;
    x.res.bind_z = 2.3;
    x.res.bind_expected_z = 20.8;
    x.in.content = NULL;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict mismatch\""));
    cr_assert(strstr(html, "content tag says these are not the pictures it was made for"));
    cr_assert(strstr(html, "another picture's content tag"));
    free(html);
    x.in.content = &x.content;
    x.content.verdict = FM_FP_MATCH;
    x.content.match = 1;
    x.in.content_elsewhere = 1;   /* the title's pictures, but not where the mark says */
    x.in.content_mark_at = 1;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict mismatch\""));
    cr_assert(strstr(html, "not where the mark says"));
    free(html);
    x.in.content_elsewhere = 0;   /* where it says: the fingerprint vouches */
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict found\""));
    free(html);
    /* the issued picture matched inside the frame (a picture in picture):
     * vouched for, and the report says where and among how many places */
    FmPicturePlace inset = { 150, 120, 480, 360, 1 };
    x.in.content_place = &inset;
    x.in.content_places = 6;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict found\""));
    cr_assert(strstr(html, "shown inside the frame, 480x360 at (150, 120)"), "%s", html);
    cr_assert(strstr(html, "one of 6 places"));
    free(html);
    x.in.content_place = NULL;
    x.res.content_mismatch = 0;   /* a weak tag, no fingerprint: unconfirmed */
    x.in.content = NULL;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict unverified\""));
    cr_assert(strstr(html, "binding to these pictures is not confirmed"));
    free(html);
    x.in.content = &x.content;
    x.res.content_bound = 1;
    x.res.mark_format = 0;

    x.content.verdict = FM_FP_MATCH;
    x.content.match = 1;
    x.res.payload_valid = 0;   /* signed, in a format this version does not read */
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict found\""));
    cr_assert(strstr(html, "in a format this version does not read"));
    free(html);

    x.res.signature_valid = 0;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict unverified\""));
    cr_assert(strstr(html, "could not be read with a valid signature"));
    free(html);

    x.res.found = 0;
    x.res.pilot_z = 2.1;
    x.res.false_alarm_log10 = 0;
    x.in.receipt_path = NULL;
    x.in.content = NULL;
    html = page(&x.in);
    expect_balanced(html);
    cr_assert(strstr(html, "class=\"verdict none\""));
    cr_assert(strstr(html, "No filmmark watermark was found in this clip with the key tried"));
    cr_assert(strstr(html, "No receipt was given"));
    free(html);
    fm_thumbnail_free(&x.thumb);
}

Test(report, a_recipient_named_without_a_blind_decode)
{
    /* wmdetect's named, named_unconfirmed and named_unbound: the verdict
     * says who the issued messages name, even when the pilot alone is not
     * significant, and what the content says about it */
    Fixture x;
    fixture(&x);
    x.res.found = 0;
    x.res.signature_valid = 0;
    x.res.pilot_z = 5.1;
    x.res.false_alarm_log10 = -0.5;
    x.in.receipt_path = NULL;
    x.in.named = FM_REPORT_NAMED;
    char *html = page(&x.in);
    expect_balanced(html);
    cr_assert(strstr(html, "class=\"verdict found\""));
    cr_assert(strstr(html, "could not be decoded blind, but scored against the issued messages"));
    cr_assert(!strstr(html, "No filmmark watermark was found"));
    free(html);
    x.in.named = FM_REPORT_NAMED_UNCONFIRMED;
    x.in.content_elsewhere = 1;
    x.in.content_mark_at = 0;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict unverified\""));
    cr_assert(strstr(html, "moved within the title"));
    cr_assert(strstr(html, "not where the mark says"));
    free(html);
    /* named, the fingerprint not aligning anywhere, a crop explaining it
     * (0.9.5: unconfirmed, where 0.9.4 said named and exited 0) */
    x.in.content_elsewhere = 0;
    x.content.verdict = FM_FP_NO_MATCH;
    x.content.match = 0;
    x.in.content_crop = 1;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict unverified\""));
    cr_assert(strstr(html, "does not align with these pictures"));
    cr_assert(!strstr(html, "moved within the title"));
    free(html);
    x.in.content_crop = 0;
    x.in.named = FM_REPORT_NAMED_UNBOUND;
    x.in.content_elsewhere = 0;
    x.content.verdict = FM_FP_NO_MATCH;
    x.content.match = 0;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict mismatch\""));
    cr_assert(strstr(html, "recorded content does not match these pictures"));
    free(html);
    fm_thumbnail_free(&x.thumb);
}

Test(report, content_match_from_the_registry_without_a_receipt)
{
    /* no --receipt, but the registry row of the issuance recorded the
     * title's fingerprint: section 8 shows the comparison the verdict used */
    Fixture x;
    fixture(&x);
    x.in.receipt_path = NULL;
    x.in.content_from_registry = 1;
    char *html = page(&x.in);
    expect_balanced(html);
    cr_assert(strstr(html, "class=\"verdict found\""));
    cr_assert(!strstr(html, "No receipt was given"));
    cr_assert(strstr(html, "the one the registry recorded when this message was issued"));
    cr_assert(strstr(html, "<strong>yes</strong>: the issued title's pictures"));
    cr_assert(!strstr(html, "Decoded message equals the receipt's"), "no receipt, no such row");
    free(html);
    x.content.verdict = FM_FP_NO_MATCH;
    x.content.match = 0;
    html = page(&x.in);
    cr_assert(strstr(html, "class=\"verdict mismatch\""));
    cr_assert(strstr(html, "the mark may have been copied onto other video"));
    free(html);
    x.in.content = NULL;   /* neither: nothing compared, and said so */
    html = page(&x.in);
    cr_assert(strstr(html, "No receipt was given"));
    cr_assert(strstr(html, "no registry row recorded a content fingerprint"));
    free(html);
    x.in.receipt_path = "r.json";   /* a receipt's fingerprint is labelled as such */
    x.in.content = &x.content;
    x.in.content_from_registry = 0;
    html = page(&x.in);
    cr_assert(strstr(html, "the one the receipt records"));
    free(html);
    fm_thumbnail_free(&x.thumb);
}

Test(report, threshold_z_inverts_the_correction)
{
    /* docs/DESIGN.md: H = 16384 puts p <= 1e-9 at z >= 7.4 */
    double z = fm_report_z_for(1e-9, 16384);
    cr_assert(fabs(z - 7.4) < 0.05, "z %.3f", z);
    for (double h = 1; h < 1e15; h *= 97) {
        double zh = fm_report_z_for(1e-9, h);
        cr_assert(fabs(fm_gauss_tail_log10(zh) + log10(h) + 9) < 1e-6, "H %g: z %.4f", h, zh);
    }
}

Test(report, strongest_times_are_apart_and_in_time_order)
{
    FmStrengthPoint p[6];
    double zs[6] = { 3, 9, 8.5, 1, 7, 10 };
    for (int i = 0; i < 6; i++)
        p[i] = (FmStrengthPoint){ .t0 = 2.0 * i, .t1 = 2.0 * i + 1.5, .z = zs[i] };
    FmStrengthTrace tr = { .points = p, .cap = 6, .n = 6 };
    double t[4], z[4];
    /* 4 s apart: 10 at 10.75 s, 9 at 2.75 s, then 8.5 (4.75 s) is too near 9,
     * 7 at 8.75 is too near 10; 3 at 0.75 too near 9; 1 at 6.75 is 4 s from both */
    int n = fm_report_pick_times(&tr, 4, 4, t, z);
    cr_assert_eq(n, 3);
    cr_assert_float_eq(t[0], 2.75, 1e-9);
    cr_assert_float_eq(z[0], 9, 1e-9);
    cr_assert_float_eq(t[1], 6.75, 1e-9);
    cr_assert_float_eq(z[1], 1, 1e-9);
    cr_assert_float_eq(t[2], 10.75, 1e-9);
    cr_assert_float_eq(z[2], 10, 1e-9);
    cr_assert_eq(fm_report_pick_times(&tr, 2, 0, t, NULL), 2);
    cr_assert_float_eq(t[0], 2.75, 1e-9);
    cr_assert_float_eq(t[1], 10.75, 1e-9);
    tr.n = 0;
    cr_assert_eq(fm_report_pick_times(&tr, 4, 0, t, z), 0);
}

/* ---- the strength trace of the detector ---- */

/* 30 frames at 2 fps (15 s), marked from 5 s on, 320x240 */
static void marked_from_5s(FmAccumulator *acc, FmKey *key, uint8_t *message)
{
    FmError err = { { 0 } };
    tu_fixed_key(key, 1);
    FmPayload pl = { .version = FM_PAYLOAD_VERSION, .title_id = 42, .recipient_id = 7,
                     .issued_minutes = 29000000u };
    cr_assert_eq(fm_payload_sign(&pl, key, message, &err), 0, "%s", err.msg);
    FmEmbedder *emb = NULL;
    cr_assert_eq(fm_embedder_new(&emb, key->wm_key, message, 320, 240, FM_DEFAULT_STRENGTH, &err),
                 0, "%s", err.msg);
    cr_assert_eq(fm_accumulator_init(acc, 320, 240, &err), 0, "%s", err.msg);
    uint8_t *plane = malloc(320 * 240);
    cr_assert(plane);
    for (int f = 0; f < 30; f++) {
        tu_synth_luma(plane, 320, 320, 240, 8, TU_SYNTH_TEXTURED, 51, f);
        if (f >= 10)
            cr_assert_eq(fm_embedder_mark(emb, plane, 320, 8, f / 2.0, NULL, &err), 0, "%s",
                         err.msg);
        cr_assert_eq(fm_accumulator_add(acc, plane, 320, 8, f / 2.0, &err), 0, "%s", err.msg);
    }
    free(plane);
    fm_embedder_free(&emb);
}

Test(report, trace_follows_the_mark_over_time)
{
    FmError err = { { 0 } };
    FmAccumulator acc;
    FmKey *key = fm_key_new();
    uint8_t message[FM_MESSAGE_BYTES];
    cr_assert(key);
    marked_from_5s(&acc, key, message);

    FmDetectResult plain, traced;
    FmStrengthPoint pts[64];
    FmStrengthTrace tr = { .points = pts, .cap = 64 };
    cr_assert_eq(fm_detect(&acc, key, 1, NULL, &plain, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_detect_trace(&acc, key, 1, NULL, &traced, NULL, &tr, &err), 0, "%s", err.msg);
    cr_assert(traced.signature_valid);
    /* tracing changes nothing in the result */
    cr_assert_eq(memcmp(&plain, &traced, sizeof(plain)), 0);

    cr_assert_gt(tr.n, 0);
    cr_assert_eq(tr.truncated, 0);
    double best_stretch = -INFINITY, marked_min = INFINITY, unmarked_max = -INFINITY;
    for (int i = 0; i < tr.n; i++) {
        const FmStrengthPoint *p = &tr.points[i];
        cr_log_info("%.1f-%.1f s: z %.2f (stretch %d, z %.2f%s)", p->t0, p->t1, p->z, p->stretch,
                    p->stretch_z, p->read ? ", read" : "");
        cr_assert_leq(p->t0, p->t1);
        if (i)
            cr_assert_gt(p->t0, tr.points[i - 1].t1, "points in time order");
        cr_assert_geq(p->stretch, 0);
        cr_assert_lt(p->stretch, traced.segments);
        best_stretch = fmax(best_stretch, p->stretch_z);
        if (p->t1 < 4.0)
            unmarked_max = fmax(unmarked_max, p->z);
        if (p->t0 >= 6.0)
            marked_min = fmin(marked_min, p->z);
    }
    cr_assert_float_eq(best_stretch, traced.pilot_z, 1e-9, "the best stretch is the result's");
    cr_assert_float_eq(tr.points[0].t0, 0, 1e-9);
    cr_assert_float_eq(tr.points[tr.n - 1].t1, 14.5, 1e-9);
    /* the unmarked epochs look like no mark (N(0,1)), every marked one is far above */
    cr_assert_lt(unmarked_max, 4, "unmarked epoch z %.2f", unmarked_max);
    cr_assert_gt(marked_min, unmarked_max + 3, "marked epochs' smallest z %.2f", marked_min);

    /* too small an array: filled, and said so */
    FmStrengthTrace small = { .points = pts, .cap = 2 };
    cr_assert_eq(fm_detect_trace(&acc, key, 1, NULL, &traced, NULL, &small, &err), 0, "%s", err.msg);
    cr_assert_eq(small.n, 2);
    cr_assert_eq(small.truncated, 1);
    fm_accumulator_free(&acc);
    fm_key_free(&key);
}

/* ---- thumbnails ---- */

Test(report, thumbnail_of_a_10bit_422_odd_frame_with_wide_pixels)
{
    AVFrame *f = av_frame_alloc();
    cr_assert(f);
    f->format = AV_PIX_FMT_YUV422P10LE;
    f->width = 721;
    f->height = 405;
    f->sample_aspect_ratio = (AVRational){ 4, 3 };
    cr_assert_eq(av_frame_get_buffer(f, 0), 0);
    for (int y = 0; y < f->height; y++) {
        uint16_t *l = (uint16_t *)(f->data[0] + y * f->linesize[0]);
        uint16_t *u = (uint16_t *)(f->data[1] + y * f->linesize[1]);
        uint16_t *v = (uint16_t *)(f->data[2] + y * f->linesize[2]);
        for (int x = 0; x < f->width; x++)
            l[x] = (uint16_t)(64 + (x * 876 / f->width));
        for (int x = 0; x < (f->width + 1) / 2; x++)
            u[x] = v[x] = 512;
    }
    FmError err = { { 0 } };
    FmThumbnail t;
    cr_assert_eq(fm_thumbnail_encode(f, 208, 6, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.width, 208);
    /* display proportions: 721 * 4/3 wide, 405 high */
    cr_assert_eq(t.height, 2 * (int)lround(208.0 * 405 / (721 * 4.0 / 3) / 2));
    cr_assert_gt(t.size, 4);
    cr_assert(t.jpeg[0] == 0xFF && t.jpeg[1] == 0xD8, "starts with SOI");
    cr_assert(t.jpeg[t.size - 2] == 0xFF && t.jpeg[t.size - 1] == 0xD9, "ends with EOI");
    cr_log_info("thumbnail %dx%d, %zu bytes", t.width, t.height, t.size);
    fm_thumbnail_free(&t);
    cr_assert_null(t.jpeg);
    /* never wider than the picture shows */
    cr_assert_eq(fm_thumbnail_encode(f, 4000, 6, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.width, 2 * (int)lround(721 * 4.0 / 3 / 2));
    fm_thumbnail_free(&t);
    av_frame_free(&f);
}

Test(report, thumbnails_grabbed_from_the_sample_at_the_times_asked)
{
    FmError err = { { 0 } };
    double times[3] = { 5.0, 0.0, 100.0 };   /* any order; past the end: the last frame */
    FmThumbnail t[3];
    cr_assert_eq(fm_thumbnails_grab(FM_SOURCE_DIR "/samples/sample.mkv", times, 3, 160, 6, t,
                                    &err), 0, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        cr_log_info("asked %.1f s, got %.2f s, %zu bytes", t[i].t, t[i].t_frame, t[i].size);
        cr_assert(t[i].jpeg && t[i].size > 100);
        cr_assert_eq(t[i].width, 160);
        cr_assert_eq(t[i].height, 120);
    }
    cr_assert(t[0].t_frame >= 5.0 - 1e-6 && t[0].t_frame < 5.0 + 0.11, "%.3f", t[0].t_frame);
    cr_assert_float_eq(t[1].t_frame, 0, 1e-6);
    cr_assert(t[2].t_frame > 7.8 && t[2].t_frame < 8.0, "the last frame: %.3f", t[2].t_frame);
    for (int i = 0; i < 3; i++)
        fm_thumbnail_free(&t[i]);
}

/* ---- the whole report, in a browser ---- */

Test(report, renders_in_headless_chromium, .timeout = 600)
{
    const char *argv[] = { "/bin/bash", FM_SOURCE_DIR "/tests/report_browser.sh", FM_BUILD_DIR,
                           FM_SOURCE_DIR, NULL };
    char *out = NULL, *errs = NULL;
    int rc = tu_run(argv, &out, &errs);
    cr_log_info("%s%s", out ? out : "", errs ? errs : "");
    cr_assert_eq(rc, 0, "report_browser.sh: exit %d: %s", rc, errs ? errs : "");
    free(out);
    free(errs);
}

Test(report, wmdetect_refuses_a_report_that_would_replace_an_input)
{
    FmError err = { { 0 } };
    char *dir = tu_mkdtemp(), *key_path = tu_path(dir, "k.dkey"), *clip = tu_path(dir, "c.mkv");
    FmKey *key = fm_key_new(), *dk = fm_key_new();
    cr_assert(key && dk);
    tu_fixed_key(key, 3);
    cr_assert_eq(fm_key_derive(key, FM_KEY_DETECT, dk, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(dk, key_path, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(tu_sh("cp '%s/samples/sample.mkv' '%s'", FM_SOURCE_DIR, clip), 0);
    const char *targets[2] = { clip, key_path };
    for (int i = 0; i < 2; i++) {
        const char *argv[] = { FM_BUILD_DIR "/wmdetect", "-q", "-k", key_path, "--report",
                               targets[i], clip, NULL };
        char *errs = NULL;
        int rc = tu_run(argv, NULL, &errs);
        cr_assert_eq(rc, 2, "exit %d", rc);
        cr_assert(errs && strstr(errs, "wmdetect: --report") &&
                  strstr(errs, "would replace an input"), "stderr: %s", errs ? errs : "");
        free(errs);
    }
    char *a = NULL, *b = NULL;
    size_t la, lb;
    cr_assert_eq(tu_read_file(clip, &a, &la), 0);
    cr_assert_eq(tu_read_file(FM_SOURCE_DIR "/samples/sample.mkv", &b, &lb), 0);
    cr_assert(la == lb && !memcmp(a, b, la), "the clip was changed");
    free(a);
    free(b);
    fm_key_free(&key);
    fm_key_free(&dk);
    free(key_path);
    free(clip);
    tu_rmtree(dir);
}
