/*
 * test_place.c - the issued picture where the mark's geometry places it
 * (place.h): inside a larger frame or cropped off the centre; the places
 * the geometry allows, their fingerprints against the issued title's, and
 * wmdetect vouching for a picture in picture and an off-centre crop end to
 * end.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "place.h"
#include "testutil.h"

#define FFMPEG "ffmpeg -nostdin -hide_banner -loglevel error -y"
#define WMKEYGEN FM_BUILD_DIR "/wmkeygen"
#define WMEMBED FM_BUILD_DIR "/wmembed"
#define WMDETECT FM_BUILD_DIR "/wmdetect"
#define SAMPLE FM_SOURCE_DIR "/samples/sample.mkv"

TestSuite(place, .timeout = 300);

static FmGeometry shrunk(double scale, double ox, double oy)
{
    return (FmGeometry){ .scale_x = scale, .scale_y = scale, .offset_x = ox, .offset_y = oy,
                         .searched = 1 };
}

static int holds(const FmPicturePlace *p, int n, double x, double y, double w, double h)
{
    for (int i = 0; i < n; i++)
        if (fabs(p[i].x - x) <= 2 && fabs(p[i].y - y) <= 2 && fabs(p[i].w - w) <= 2 &&
            fabs(p[i].h - h) <= 2)
            return 1;
    return 0;
}

Test(place, places_are_one_tile_period_apart_and_hold_the_picture)
{
    /* a 16:9 picture at half size inside a 1280x720 frame, at (555, 301):
     * the tile period there is 128 x 0.5 x 720 / 360 = 128 pixels */
    FmPicturePlace p[FM_PLACES_MAX];
    FmGeometry g = shrunk(0.5, 555 - 4 * 128, 301 - 2 * 128);
    int n = fm_places_find(&g, 1280, 720, 16.0 / 9, p, FM_PLACES_MAX);
    cr_assert_eq(n, 15, "places: %d", n);  /* 5 across, 3 down */
    cr_assert(holds(p, n, 555, 301, 640, 360));
    for (int i = 0; i < n; i++) {
        cr_assert(p[i].inside && p[i].x >= -1 && p[i].y >= -1 && p[i].x + p[i].w <= 1281 &&
                  p[i].y + p[i].h <= 721, "place %d outside the frame", i);
        double k = (p[i].x - 43) / 128;
        cr_assert_float_eq(k, round(k), 1e-6, "place %d at x %.1f is off the period", i, p[i].x);
    }
    /* the offset's representative does not matter */
    g = shrunk(0.5, 555, 301);
    cr_assert_eq(fm_places_find(&g, 1280, 720, 16.0 / 9, p, FM_PLACES_MAX), 15);
    cr_assert(holds(p, 15, 555, 301, 640, 360));
    /* a 4:3 picture boxed in a vertical frame: one place across */
    g = shrunk(720.0 / 1280 * 0.75, 0, 370);
    n = fm_places_find(&g, 720, 1280, 4.0 / 3, p, FM_PLACES_MAX);
    cr_assert_gt(n, 0);
    cr_assert(holds(p, n, 0, 370, 720, 540), "%d places", n);
}

Test(place, a_mirrored_clip_places_the_picture_from_its_other_edge)
{
    FmPicturePlace p[FM_PLACES_MAX];
    /* mirrored left-right: the offset is the mirrored frame's, whose
     * picture starts 1280 - (555 + 640) = 85 pixels from the left */
    FmGeometry g = shrunk(0.5, 85, 301);
    g.flip_h = 1;
    int n = fm_places_find(&g, 1280, 720, 16.0 / 9, p, FM_PLACES_MAX);
    cr_assert(holds(p, n, 555, 301, 640, 360), "%d places", n);
    /* a 4:3 picture (not a whole number of periods wide) mirrored both ways
     * at (238, 40) of a 768x576 frame, 480x360: offsets 50 and 176 */
    g = shrunk(0.625, 768 - 238 - 480, 576 - 40 - 360);
    g.flip_h = g.flip_v = 1;
    n = fm_places_find(&g, 768, 576, 4.0 / 3, p, FM_PLACES_MAX);
    cr_assert(holds(p, n, 238, 40, 480, 360), "%d places", n);
    g.flip_h = g.flip_v = 0;   /* read as unmirrored, those offsets miss it */
    n = fm_places_find(&g, 768, 576, 4.0 / 3, p, FM_PLACES_MAX);
    cr_assert_not(holds(p, n, 238, 40, 480, 360), "%d places", n);
}

Test(place, an_off_centre_crop_is_placed_where_the_clip_holds_the_hash_centre)
{
    FmPicturePlace p[FM_PLACES_MAX];
    /* half the area of a 1920x1080 picture at (137, 71), 1358x764: the
     * whole picture reaches beyond the clip on every side but the hashed
     * centre (26 % to 74 % of each axis) lies in it */
    FmGeometry g = shrunk(1080.0 / 764, -137, -71);
    int n = fm_places_find(&g, 1358, 764, 16.0 / 9, p, FM_PLACES_MAX);
    cr_assert_gt(n, 0);
    cr_assert(holds(p, n, -137, -71, 1920, 1080), "%d places", n);
    for (int i = 0; i < n; i++) {
        cr_assert_not(p[i].inside);
        cr_assert(p[i].x <= 0 && p[i].y <= 0 && p[i].x + p[i].w >= 1358 &&
                  p[i].y + p[i].h >= 764, "place %d does not cover the clip", i);
    }
    /* the same crop read as a mirrored clip */
    g.flip_h = 1;
    g.offset_x = 1358 - 1920 + 137;
    n = fm_places_find(&g, 1358, 764, 16.0 / 9, p, FM_PLACES_MAX);
    cr_assert(holds(p, n, -137, -71, 1920, 1080), "%d places", n);
}

Test(place, no_places_unless_the_whole_frame_cannot_see_the_picture)
{
    FmPicturePlace p[FM_PLACES_MAX];
    FmGeometry g = shrunk(1.0, 0, 0);
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 16.0 / 9, p, FM_PLACES_MAX), 0,
                 "untouched");
    g = shrunk(2.5, 10, 10);
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 16.0 / 9, p, FM_PLACES_MAX), 0,
                 "a crop that cuts the hash's centre");
    g = shrunk(0.97, 10, 10);
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 16.0 / 9, p, FM_PLACES_MAX), 0,
                 "all but fills the frame");
    g = shrunk(0.5, 10, 10);
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 0, p, FM_PLACES_MAX), 0,
                 "aspect unknown");
    g.perspective = 1;
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 16.0 / 9, p, FM_PLACES_MAX), 0,
                 "perspective");
    g = shrunk(0.5, 10, 10);
    g.rotation_deg = 2;
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 16.0 / 9, p, FM_PLACES_MAX), 0,
                 "turned");
    /* a tiny picture could be at too many places: not looked for */
    g = shrunk(0.12, 10, 10);
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 16.0 / 9, p, FM_PLACES_MAX), 0,
                 "too many places");
    g = shrunk(0.5, 10, 10);
    cr_assert_eq(fm_places_find(&g, 1920, 1080, 16.0 / 9, p, 3), 0, "more than max");
    FmPlaces *in = (FmPlaces *)1;
    g = shrunk(1.0, 0, 0);
    cr_assert_eq(fm_places_new(&in, &g, 1920, 1080, 16.0 / 9, NULL), 0);
    cr_assert_null(in);
}

Test(place, bad_areas_and_arguments_are_refused)
{
    FmFingerprint *fp;
    FmError err = { { 0 } };
    uint8_t frame[64 * 64] = { 0 };
    cr_assert_eq(fm_fingerprint_new(&fp, FM_FP_PLACED, NULL), 0);
    const double bad[][4] = {
        { NAN, 0, 64, 64 }, { 0, 0, INFINITY, 64 }, { 0, 0, 10, 64 }, { 0, 0, 64, 15 },
        { 10, 10, 5, 64 }, { -2e6, 0, 64, 64 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(fm_fingerprint_add_area(fp, frame, 64, 8, 64, 64, 0, bad[i][0], bad[i][1],
                                             bad[i][2], bad[i][3], &err), FM_EINVAL,
                     "area %zu accepted", i);
    cr_assert_eq(fm_fingerprint_frames(fp), 0);
    /* an area beyond the frame is taken, its edge repeated */
    cr_assert_eq(fm_fingerprint_add_area(fp, frame, 64, 8, 64, 64, 0, -20, -10, 90, 70, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(fm_fingerprint_frames(fp), 1);
    fm_fingerprint_free(&fp);

    FmPlaces *pl;
    FmGeometry g = shrunk(0.5, 10, 10);
    cr_assert_gt(fm_places_new(&pl, &g, 640, 360, 16.0 / 9, &err), 0);
    cr_assert_eq(fm_places_add(pl, NULL, 640, 8, 0, &err), FM_EINVAL);
    cr_assert_eq(fm_places_add(pl, frame, 64, 7, 0, &err), FM_EINVAL);
    cr_assert_eq(fm_places_compare(pl, NULL, 0, 1, NULL, NULL, &err), FM_EINVAL);
    /* a clip that cannot be read again: an error wmdetect reports as a
     * warning, keeping its verdict */
    cr_assert_lt(fm_places_read(pl, "/nonexistent/clip.mp4", 0, 0, 0, 10, &err), 0);
    cr_assert(err.msg[0]);
    fm_places_free(&pl);
    fm_places_free(&pl);   /* a no-op on NULL */
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

/* How the clip shows the title: its picture at (AT_X, AT_Y) of a CW x CH
 * frame of sines (half the frame's height), or the crop from (CROP_X,
 * CROP_Y) to its bottom-right corner, 81 % x 83 % off the centre. */
enum { INSET, CROP };
#define CROP_X 48
#define CROP_Y 24

static void clip_size(int how, int *w, int *h)
{
    *w = how == INSET ? CW : MW - CROP_X;
    *h = how == INSET ? CH : MH - CROP_Y;
}

/* Frame i of the clip at bit_depth from the picture `pic` (MW x MH, 8-bit). */
static void clip_frame(uint8_t *out, int how, int bit_depth, const uint8_t *pic, int i)
{
    int bps = bit_depth > 8 ? 2 : 1, w, h;
    clip_size(how, &w, &h);
    if (how == INSET)
        tu_synth_luma(out, (ptrdiff_t)w * bps, w, h, bit_depth, TU_SYNTH_SINES, 7, i);
    int x0 = how == INSET ? AT_X : -CROP_X, y0 = how == INSET ? AT_Y : -CROP_Y;
    for (int y = 0; y < MH; y++)
        for (int x = 0; x < MW; x++) {
            int cx = x0 + x, cy = y0 + y;
            if (cx < 0 || cy < 0 || cx >= w || cy >= h)
                continue;
            int v = pic[(size_t)y * MW + x];
            size_t k = (size_t)cy * w + cx;
            if (bps == 1)
                out[k] = (uint8_t)v;
            else
                ((uint16_t *)(void *)out)[k] = (uint16_t)(v << (bit_depth - 8));
        }
}

/* The clip showing pictures `pics`: the whole-frame match and the best
 * place's. */
static void read_clip(const FmFingerprint *issued, const uint8_t *pics, int how, int bit_depth,
                      FmFpMatch *whole, FmFpMatch *placed, FmPicturePlace *place, int *places)
{
    int bps = bit_depth > 8 ? 2 : 1, w, h;
    clip_size(how, &w, &h);
    uint8_t *frame = malloc((size_t)w * h * bps);
    FmFingerprint *clip;
    FmPlaces *pl;
    FmError err = { { 0 } };
    cr_assert(frame);
    cr_assert_eq(fm_fingerprint_new(&clip, FM_FP_CLIP, NULL), 0);
    /* the picture's height in the clip over the clip's, and its top-left
     * corner modulo the period, 128 x 144 / 360 = 51.2 pixels (the clip's
     * pixels are the picture's) */
    FmGeometry g = how == INSET ? shrunk((double)MH / h, fmod(AT_X, 51.2), fmod(AT_Y, 51.2))
                                : shrunk((double)MH / h, fmod(-CROP_X, 51.2), fmod(-CROP_Y, 51.2));
    *places = fm_places_new(&pl, &g, w, h, (double)MW / MH, &err);
    cr_assert_gt(*places, 1, "%s", err.msg);
    for (int i = 0; i < FRAMES; i++) {
        clip_frame(frame, how, bit_depth, pics + (size_t)i * MW * MH, i);
        double t = (double)i / FPS;
        cr_assert_eq(fm_fingerprint_add(clip, frame, (ptrdiff_t)w * bps, bit_depth, w, h, t,
                                        &err), 0, "%s", err.msg);
        cr_assert_eq(fm_places_add(pl, frame, (ptrdiff_t)w * bps, bit_depth, t, &err), 0, "%s",
                     err.msg);
    }
    cr_assert_eq(fm_fingerprint_compare_span(issued, clip, -INFINITY, INFINITY, whole, &err), 0);
    int idx = -1;
    cr_assert_eq(fm_places_compare(pl, issued, -INFINITY, INFINITY, placed, &idx, &err), 0);
    cr_assert(idx >= 0 && idx < *places);
    *place = fm_places_place(pl, idx);
    /* the places are counted: the same comparison of that place alone has
     * fewer hypotheses by their number */
    FmFpMatch alone;
    cr_assert_eq(fm_fingerprint_compare_span(issued, fm_places_fingerprint(pl, idx), -INFINITY,
                                             INFINITY, &alone, &err), 0);
    cr_assert_float_eq(placed->log10_hypotheses, alone.log10_hypotheses + log10(*places), 1e-9);
    cr_assert_float_eq(placed->log10_p_best, alone.log10_p_best, 1e-9);
    fm_places_free(&pl);
    cr_assert_null(pl);
    fm_fingerprint_free(&clip);
    free(frame);
}

static void title_and_other(uint8_t **title, uint8_t **other, FmFingerprint **issued)
{
    *title = malloc((size_t)FRAMES * MW * MH);
    *other = malloc((size_t)FRAMES * MW * MH);
    cr_assert(*title && *other);
    *issued = issued_fp(*title);
    for (int i = 0; i < FRAMES; i++)
        tu_synth_luma(*other + (size_t)i * MW * MH, MW, MW, MH, 8, TU_SYNTH_SHAPES, 99, i);
}

/* The title shown `how` at bit depth bd matches at its place (x, y), not
 * by its whole frames; other pictures shown alike (at the other depth) do
 * not match. */
static void title_matches_at(int how, int bd, double x, double y)
{
    const char *name = how == INSET ? "inset" : "crop";
    uint8_t *title, *other;
    FmFingerprint *issued;
    title_and_other(&title, &other, &issued);
    FmFpMatch whole, placed;
    FmPicturePlace place;
    int places;
    read_clip(issued, title, how, bd, &whole, &placed, &place, &places);
    cr_log_info("title %s: whole frames log10 p %.1f, place %.1f (%d places)", name,
                whole.log10_p, placed.log10_p, places);
    cr_assert_eq(whole.verdict, FM_FP_NO_MATCH, "the whole frames match (log10 p %.1f)",
                 whole.log10_p);
    cr_assert_eq(placed.verdict, FM_FP_MATCH, "%s: log10 p %.1f, %.0f%% agree", name,
                 placed.log10_p, 100 * placed.score);
    cr_assert(place.inside == (how == INSET) && fabs(place.x - x) <= 2 &&
              fabs(place.y - y) <= 2 && fabs(place.w - MW) <= 2 && fabs(place.h - MH) <= 2,
              "matched at %.0fx%.0f+%.0f+%.0f", place.w, place.h, place.x, place.y);
    read_clip(issued, other, how, bd == 8 ? 10 : 8, &whole, &placed, &place, &places);
    cr_log_info("other %s: whole frames log10 p %.1f, place %.1f", name, whole.log10_p,
                placed.log10_p);
    cr_assert_eq(placed.verdict, FM_FP_NO_MATCH, "other pictures matched: log10 p %.1f",
                 placed.log10_p);
    fm_fingerprint_free(&issued);
    free(title);
    free(other);
}

Test(place, the_issued_picture_inset_matches_where_it_lies_and_other_pictures_do_not)
{
    title_matches_at(INSET, 10, AT_X, AT_Y);
}

Test(place, an_off_centre_crop_matches_where_it_lies_and_other_pictures_do_not)
{
    title_matches_at(CROP, 8, -CROP_X, -CROP_Y);
}

/* Unrelated pictures of every synthetic kind, inset and cropped: no place
 * matches the title. The closest are pictures of the title's own kind
 * (moving shapes of another seed, inset: 10^-5.1 with the 18 places
 * counted, 85 % of 128 bits over 2 one-second windows) and a moving
 * checkerboard (10^-4.5 cropped): synthetic content shares its generator's
 * layout more than real pictures do (fingerprint.h: 10^-4.1 the closest of
 * 304 real pairs). */
Test(place, no_place_of_unrelated_pictures_matches)
{
    uint8_t *title, *other;
    FmFingerprint *issued;
    title_and_other(&title, &other, &issued);
    double worst = 0;
    for (int kind = 0; kind < TU_SYNTH_KINDS; kind++) {
        for (int i = 0; i < FRAMES; i++)
            tu_synth_luma(other + (size_t)i * MW * MH, MW, MW, MH, 8, kind, 1000 + kind, i);
        for (int how = INSET; how <= CROP; how++) {
            FmFpMatch whole, placed;
            FmPicturePlace place;
            int places;
            read_clip(issued, other, how, 8, &whole, &placed, &place, &places);
            cr_assert_neq(placed.verdict, FM_FP_MATCH, "%s %s matched: log10 p %.1f",
                          tu_synth_name(kind), how == INSET ? "inset" : "cropped",
                          placed.log10_p);
            worst = placed.log10_p < worst ? placed.log10_p : worst;
            cr_log_info("%s %s: log10 p %.1f (%.0f%% of %ld bits, %d windows)",
                        tu_synth_name(kind), how == INSET ? "inset" : "cropped",
                        placed.log10_p, 100 * placed.score, placed.bits, placed.windows);
        }
    }
    cr_log_info("unrelated kinds: smallest log10 p %.1f", worst);
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

/* wmdetect --json with the receipt on a copy: exit 0, the content matched
 * at the place (x, y, w, h), within the frame or not. */
static void vouched_at(const char *dkey, const char *receipt, const char *copy, double x,
                       double y, double w, double h, int within)
{
    char *out = NULL, *errs = NULL;
    const char *de[] = { WMDETECT, "-k", dkey, "--receipt", receipt, "--json", copy, NULL };
    int rc = tu_run(de, &out, &errs);
    json_t *j = parse(out);
    json_t *c = json_object_get(j, "content");
    cr_assert(json_is_true(json_object_get(j, "signature_valid")), "%s", out);
    cr_assert(json_is_true(json_object_get(j, "content_match")), "%s", out);
    json_t *pp = json_object_get(c, "picture_place");
    cr_assert(json_is_object(pp), "no place: %s", out);
    double px = json_number_value(json_object_get(pp, "x"));
    double py = json_number_value(json_object_get(pp, "y"));
    double pw = json_number_value(json_object_get(pp, "width"));
    double ph = json_number_value(json_object_get(pp, "height"));
    cr_assert(fabs(px - x) <= 4 && fabs(py - y) <= 4 && fabs(pw - w) <= 4 && fabs(ph - h) <= 4,
              "place %.0fx%.0f at (%.0f, %.0f)", pw, ph, px, py);
    cr_assert_eq(json_is_true(json_object_get(pp, "within_frame")), within, "%s", out);
    cr_assert_gt(json_integer_value(json_object_get(pp, "places")), 0);
    cr_assert_lt(json_number_value(json_object_get(c, "false_match_log10")), -6);
    cr_assert_eq(rc, 0, "wmdetect exit %d: %s", rc, out);
    json_decref(j);
    free(out);
    free(errs);
}

/*
 * The bundled sample (768x576, real footage) marked, then (1) shown at 5/8
 * of its size over other pictures (a reaction video), (2) cropped to its
 * bottom-right 78 % x 78 %: the whole frames do not match the receipt's
 * fingerprint, the picture's place does, and wmdetect finds the mark
 * verified and the content the issued title's (exit 0).
 */
Test(place, wmdetect_vouches_for_a_picture_in_picture_and_an_off_centre_crop)
{
    char *dir = tu_mkdtemp(), *prefix = tu_path(dir, "k"), *key = tu_path(dir, "k.key");
    char *dkey = tu_path(dir, "k.dkey"), *deliv = tu_path(dir, "d.mkv");
    char *receipt = tu_path(dir, "d.mkv.receipt.json"), *pip = tu_path(dir, "pip.mp4");
    char *crop = tu_path(dir, "crop.mp4"), *errs = NULL;
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
    cr_assert_eq(tu_sh(FFMPEG " -i '%s' -vf crop=600:450:168:126 -c:v libx264 -crf 16 "
                       "-pix_fmt yuv420p '%s'", deliv, crop), 0);
    vouched_at(dkey, receipt, pip, 150, 120, 480, 360, 1);
    vouched_at(dkey, receipt, crop, -168, -126, 768, 576, 0);
    tu_rmtree(dir);
    free(prefix);
    free(key);
    free(dkey);
    free(deliv);
    free(receipt);
    free(pip);
    free(crop);
}
