/*
 * test_inset.c - the issued picture inside a larger frame (inset.h): the
 * places the mark's geometry allows, their fingerprints against the issued
 * title's, and wmdetect vouching for a picture in picture end to end.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "inset.h"
#include "testutil.h"

#define FFMPEG "ffmpeg -nostdin -hide_banner -loglevel error -y"
#define WMKEYGEN FM_BUILD_DIR "/wmkeygen"
#define WMEMBED FM_BUILD_DIR "/wmembed"
#define WMDETECT FM_BUILD_DIR "/wmdetect"
#define SAMPLE FM_SOURCE_DIR "/samples/sample.mkv"

TestSuite(inset, .timeout = 300);

static FmGeometry shrunk(double scale, double ox, double oy)
{
    return (FmGeometry){ .scale_x = scale, .scale_y = scale, .offset_x = ox, .offset_y = oy,
                         .searched = 1 };
}

static int holds(const FmInsetPlace *p, int n, int x, int y, int w, int h)
{
    for (int i = 0; i < n; i++)
        if (abs(p[i].x - x) <= 2 && abs(p[i].y - y) <= 2 && abs(p[i].w - w) <= 2 &&
            abs(p[i].h - h) <= 2)
            return 1;
    return 0;
}

Test(inset, places_are_one_tile_period_apart_and_hold_the_picture)
{
    /* a 16:9 picture at half size inside a 1280x720 frame, at (555, 301):
     * the tile period there is 128 x 0.5 x 720 / 360 = 128 pixels */
    FmInsetPlace p[FM_INSET_MAX_PLACES];
    FmGeometry g = shrunk(0.5, 555 - 4 * 128, 301 - 2 * 128);
    int n = fm_inset_places(&g, 1280, 720, 16.0 / 9, p, FM_INSET_MAX_PLACES);
    cr_assert_eq(n, 15, "places: %d", n);  /* 5 across, 3 down */
    cr_assert(holds(p, n, 555, 301, 640, 360));
    for (int i = 0; i < n; i++) {
        cr_assert(p[i].x >= 0 && p[i].y >= 0 && p[i].x + p[i].w <= 1280 &&
                  p[i].y + p[i].h <= 720, "place %d outside the frame", i);
        cr_assert_eq((p[i].x - 43 + 1280) % 128 <= 1 || (p[i].x - 43 + 1280) % 128 >= 127, 1,
                     "place %d at x %d is off the period", i, p[i].x);
    }
    /* the offset's representative does not matter */
    g = shrunk(0.5, 555, 301);
    cr_assert_eq(fm_inset_places(&g, 1280, 720, 16.0 / 9, p, FM_INSET_MAX_PLACES), 15);
    cr_assert(holds(p, 15, 555, 301, 640, 360));
    /* a 4:3 picture boxed in a vertical frame: one place across */
    g = shrunk(720.0 / 1280 * 0.75, 0, 370);
    n = fm_inset_places(&g, 720, 1280, 4.0 / 3, p, FM_INSET_MAX_PLACES);
    cr_assert_gt(n, 0);
    cr_assert(holds(p, n, 0, 370, 720, 540), "%d places", n);
}

Test(inset, a_mirrored_clip_places_the_picture_from_its_other_edge)
{
    FmInsetPlace p[FM_INSET_MAX_PLACES];
    /* mirrored left-right: the offset is the mirrored frame's, whose
     * picture starts 1280 - (555 + 640) = 85 pixels from the left */
    FmGeometry g = shrunk(0.5, 85, 301);
    g.flip_h = 1;
    int n = fm_inset_places(&g, 1280, 720, 16.0 / 9, p, FM_INSET_MAX_PLACES);
    cr_assert(holds(p, n, 555, 301, 640, 360), "%d places", n);
    /* a 4:3 picture (not a whole number of periods wide) mirrored both ways
     * at (238, 40) of a 768x576 frame, 480x360: offsets 50 and 176 */
    g = shrunk(0.625, 768 - 238 - 480, 576 - 40 - 360);
    g.flip_h = g.flip_v = 1;
    n = fm_inset_places(&g, 768, 576, 4.0 / 3, p, FM_INSET_MAX_PLACES);
    cr_assert(holds(p, n, 238, 40, 480, 360), "%d places", n);
    g.flip_h = g.flip_v = 0;   /* read as unmirrored, those offsets miss it */
    n = fm_inset_places(&g, 768, 576, 4.0 / 3, p, FM_INSET_MAX_PLACES);
    cr_assert_not(holds(p, n, 238, 40, 480, 360), "%d places", n);
}

Test(inset, no_places_unless_the_picture_is_inside_the_frame)
{
    FmInsetPlace p[FM_INSET_MAX_PLACES];
    FmGeometry g = shrunk(1.0, 0, 0);
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 16.0 / 9, p, FM_INSET_MAX_PLACES), 0,
                 "untouched");
    g = shrunk(1.25, 10, 10);
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 16.0 / 9, p, FM_INSET_MAX_PLACES), 0,
                 "enlarged (a crop)");
    g = shrunk(0.97, 10, 10);
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 16.0 / 9, p, FM_INSET_MAX_PLACES), 0,
                 "all but fills the frame");
    g = shrunk(0.5, 10, 10);
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 0, p, FM_INSET_MAX_PLACES), 0,
                 "aspect unknown");
    g.perspective = 1;
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 16.0 / 9, p, FM_INSET_MAX_PLACES), 0,
                 "perspective");
    g = shrunk(0.5, 10, 10);
    g.rotation_deg = 2;
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 16.0 / 9, p, FM_INSET_MAX_PLACES), 0,
                 "turned");
    /* a tiny picture could be at too many places: not looked for */
    g = shrunk(0.12, 10, 10);
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 16.0 / 9, p, FM_INSET_MAX_PLACES), 0,
                 "too many places");
    g = shrunk(0.5, 10, 10);
    cr_assert_eq(fm_inset_places(&g, 1920, 1080, 16.0 / 9, p, 3), 0, "more than max");
    FmInset *in = (FmInset *)1;
    g = shrunk(1.0, 0, 0);
    cr_assert_eq(fm_inset_new(&in, &g, 1920, 1080, 16.0 / 9, NULL), 0);
    cr_assert_null(in);
}

/* ------------------------------------------------------------ synthetic */

#define MW 256
#define MH 144
#define CW 512
#define CH 288
#define FPS 12
#define FRAMES (6 * FPS)
#define AT_X 203
#define AT_Y 97

/* The issued title: moving shapes, through the string form a receipt keeps. */
static FmFingerprint *issued_fp(uint8_t *frames)
{
    FmFingerprint *live, *fp;
    char *s;
    cr_assert_eq(fm_fingerprint_new(&live, FM_FP_REFERENCE, NULL), 0);
    for (int i = 0; i < FRAMES; i++) {
        uint8_t *f = frames + (size_t)i * MW * MH;
        tu_synth_luma(f, MW, MW, MH, 8, TU_SYNTH_SHAPES, 1, i);
        cr_assert_eq(fm_fingerprint_add(live, f, MW, 8, MW, MH, (double)i / FPS, NULL), 0);
    }
    cr_assert_eq(fm_fingerprint_to_string(live, &s, NULL), 0);
    cr_assert_eq(fm_fingerprint_from_string(&fp, s, NULL), 0);
    free(s);
    fm_fingerprint_free(&live);
    return fp;
}

/* Frame i of the clip: sines at bit_depth, with the picture `pic` (MW x MH,
 * 8-bit) at (AT_X, AT_Y): at half the clip's height. */
static void clip_frame(uint8_t *out, int bit_depth, const uint8_t *pic, int i)
{
    int bps = bit_depth > 8 ? 2 : 1;
    tu_synth_luma(out, (ptrdiff_t)CW * bps, CW, CH, bit_depth, TU_SYNTH_SINES, 7, i);
    for (int y = 0; y < MH; y++)
        for (int x = 0; x < MW; x++) {
            int v = pic[(size_t)y * MW + x];
            size_t k = (size_t)(AT_Y + y) * CW + AT_X + x;
            if (bps == 1)
                out[k] = (uint8_t)v;
            else
                ((uint16_t *)(void *)out)[k] = (uint16_t)(v << (bit_depth - 8));
        }
}

/* The clip with `pic_of(i)` inset: the whole-frame match and the inset's. */
static void read_clip(const FmFingerprint *issued, const uint8_t *pics, int bit_depth,
                      FmFpMatch *whole, FmFpMatch *inset, FmInsetPlace *place, int *places)
{
    int bps = bit_depth > 8 ? 2 : 1;
    uint8_t *frame = malloc((size_t)CW * CH * bps);
    FmFingerprint *clip;
    FmInset *in;
    FmError err = { { 0 } };
    cr_assert(frame);
    cr_assert_eq(fm_fingerprint_new(&clip, FM_FP_CLIP, NULL), 0);
    /* the picture at half the clip's height: the period is 128 x 0.5 x 288 /
     * 360 = 51.2 pixels */
    FmGeometry g = shrunk((double)MH / CH, fmod(AT_X, 51.2), fmod(AT_Y, 51.2));
    *places = fm_inset_new(&in, &g, CW, CH, (double)MW / MH, &err);
    cr_assert_gt(*places, 1, "%s", err.msg);
    for (int i = 0; i < FRAMES; i++) {
        clip_frame(frame, bit_depth, pics + (size_t)i * MW * MH, i);
        double t = (double)i / FPS;
        cr_assert_eq(fm_fingerprint_add(clip, frame, (ptrdiff_t)CW * bps, bit_depth, CW, CH, t,
                                        &err), 0, "%s", err.msg);
        cr_assert_eq(fm_inset_add(in, frame, (ptrdiff_t)CW * bps, bit_depth, t, &err), 0, "%s",
                     err.msg);
    }
    cr_assert_eq(fm_fingerprint_compare_span(issued, clip, -INFINITY, INFINITY, whole, &err), 0);
    int idx = -1;
    cr_assert_eq(fm_inset_compare(in, issued, -INFINITY, INFINITY, inset, &idx, &err), 0);
    cr_assert(idx >= 0 && idx < *places);
    *place = fm_inset_place(in, idx);
    /* the places are counted: the same comparison of that place alone has
     * fewer hypotheses by their number */
    FmFpMatch alone;
    cr_assert_eq(fm_fingerprint_compare_span(issued, fm_inset_fingerprint(in, idx), -INFINITY,
                                             INFINITY, &alone, &err), 0);
    cr_assert_float_eq(inset->log10_hypotheses, alone.log10_hypotheses + log10(*places), 1e-9);
    cr_assert_float_eq(inset->log10_p_best, alone.log10_p_best, 1e-9);
    fm_inset_free(&in);
    cr_assert_null(in);
    fm_fingerprint_free(&clip);
    free(frame);
}

Test(inset, the_issued_picture_inset_matches_where_it_lies_and_other_pictures_do_not)
{
    uint8_t *title = malloc((size_t)FRAMES * MW * MH), *other = malloc((size_t)FRAMES * MW * MH);
    cr_assert(title && other);
    FmFingerprint *issued = issued_fp(title);
    for (int i = 0; i < FRAMES; i++)
        tu_synth_luma(other + (size_t)i * MW * MH, MW, MW, MH, 8, TU_SYNTH_SHAPES, 99, i);

    FmFpMatch whole, inset;
    FmInsetPlace place;
    int places;
    /* the title's pictures inset, in a 10-bit clip */
    read_clip(issued, title, 10, &whole, &inset, &place, &places);
    cr_log_info("title inset: whole frames log10 p %.1f, inset %.1f (%d places)", whole.log10_p,
                inset.log10_p, places);
    cr_assert_eq(whole.verdict, FM_FP_NO_MATCH, "the whole frames match (log10 p %.1f)",
                 whole.log10_p);
    cr_assert_eq(inset.verdict, FM_FP_MATCH, "inset: log10 p %.1f, %.0f%% agree", inset.log10_p,
                 100 * inset.score);
    cr_assert(abs(place.x - AT_X) <= 2 && abs(place.y - AT_Y) <= 2 && abs(place.w - MW) <= 2 &&
              abs(place.h - MH) <= 2,
              "matched at %dx%d+%d+%d", place.w, place.h, place.x, place.y);
    /* other pictures inset, in an 8-bit clip: no place matches */
    read_clip(issued, other, 8, &whole, &inset, &place, &places);
    cr_log_info("other inset: whole frames log10 p %.1f, inset %.1f", whole.log10_p,
                inset.log10_p);
    cr_assert_eq(inset.verdict, FM_FP_NO_MATCH, "other pictures matched: log10 p %.1f",
                 inset.log10_p);
    fm_fingerprint_free(&issued);
    free(title);
    free(other);
}

/* ------------------------------------------------------------ end to end */

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text ? text : "", 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %s", je.text, text ? text : "");
    return j;
}

/*
 * The bundled sample marked, then shown at 5/8 of its size over other
 * pictures (a reaction video): the whole frames do not match the receipt's
 * fingerprint, the inset does, and wmdetect finds the mark verified and the
 * content the issued title's (exit 0).
 */
Test(inset, wmdetect_vouches_for_a_picture_in_picture)
{
    char *dir = tu_mkdtemp(), *prefix = tu_path(dir, "k"), *key = tu_path(dir, "k.key");
    char *dkey = tu_path(dir, "k.dkey"), *deliv = tu_path(dir, "d.mkv");
    char *receipt = tu_path(dir, "d.mkv.receipt.json"), *pip = tu_path(dir, "pip.mp4");
    char *out = NULL, *errs = NULL;
    const char *kg[] = { WMKEYGEN, "-o", prefix, "--no-passphrase", "-q", NULL };
    cr_assert_eq(tu_run(kg, NULL, &errs), 0, "wmkeygen: %s", errs);
    free(errs);
    const char *em[] = { WMEMBED, "-k", key, "-i", SAMPLE, "-o", deliv, "--codec", "ffv1",
                         "--title-id", "3", "--recipient-id", "4", "-q", NULL };
    cr_assert_eq(tu_run(em, NULL, &errs), 0, "wmembed: %s", errs);
    free(errs);
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i mandelbrot=size=768x576:rate=10 -i '%s' "
                       "-filter_complex '[0:v]trim=duration=8[bg];[1:v]scale=480:360[s];"
                       "[bg][s]overlay=150:120' -c:v libx264 -crf 16 -pix_fmt yuv420p '%s'",
                       deliv, pip), 0);
    const char *de[] = { WMDETECT, "-k", dkey, "--receipt", receipt, "--json", pip, NULL };
    int rc = tu_run(de, &out, &errs);
    json_t *j = parse(out);
    json_t *c = json_object_get(j, "content");
    cr_assert(json_is_true(json_object_get(j, "signature_valid")), "%s", out);
    cr_assert(json_is_true(json_object_get(j, "content_match")), "%s", out);
    json_t *inset = json_object_get(c, "inset");
    cr_assert(json_is_object(inset), "no inset: %s", out);
    int x = (int)json_integer_value(json_object_get(inset, "x"));
    int y = (int)json_integer_value(json_object_get(inset, "y"));
    int w = (int)json_integer_value(json_object_get(inset, "width"));
    int h = (int)json_integer_value(json_object_get(inset, "height"));
    cr_assert(abs(x - 150) <= 3 && abs(y - 120) <= 3 && abs(w - 480) <= 3 && abs(h - 360) <= 3,
              "inset %dx%d at (%d, %d)", w, h, x, y);
    cr_assert_gt(json_integer_value(json_object_get(inset, "places")), 0);
    cr_assert_lt(json_number_value(json_object_get(c, "false_match_log10")), -6);
    cr_assert_eq(rc, 0, "wmdetect exit %d: %s", rc, out);
    json_decref(j);
    free(out);
    free(errs);
    tu_rmtree(dir);
    free(prefix);
    free(key);
    free(dkey);
    free(deliv);
    free(receipt);
    free(pip);
}
