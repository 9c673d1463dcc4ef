/*
 * test_geometry_rotate.c - turned copies and copies seen in perspective,
 * found by the geometry search (issue 8), end to end: a master made from
 * the bundled sample (a static, textured 768x576 street camera) is marked
 * by wmembed (FFV1, a fixed issue time: the same mark on every host), then
 * turned by ffmpeg's rotate filter (black corners) or warped by its
 * perspective filter, and re-encoded by x264 (one thread: the same bytes
 * everywhere). The detector is told nothing; the geometry must come out of
 * the search and the payload must verify.
 *
 * Turned: 0.7.2 read the angle from the strongest autocorrelation peak near
 * the x axis, which on this static picture was the picture's own structure
 * (a 1 deg turn read as 2.65 deg): both copies were absent.
 * Perspective (a camcorder's keystone: corners moved 1-4 % inwards, 0.7.4):
 * no single grid step folds the mark across such a frame, and 0.7.3 found
 * nothing (pilot z 3-4). The static sample itself hides the sync layer under
 * its own texture once warped, so the master here pans slowly over it.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <jansson.h>

#include "keys.h"
#include "payload.h"
#include "testutil.h"

TestSuite(geometry_rotate, .timeout = 600);

typedef struct Marked {
    FmKey *key;
    char *dir, *dkey, *deliv, *copy;
} Marked;

/* A key, its detection key and a deliverable of master (recipient 169) in a
 * new directory. */
static Marked mark_master(const char *master)
{
    Marked m;
    FmPayload payload;
    uint8_t message[FM_MESSAGE_BYTES];
    m.key = tu_signed_message(11, 43, 169, &payload, message);
    m.dir = tu_mkdtemp();
    m.dkey = tu_path(m.dir, "k.dkey");
    m.deliv = tu_path(m.dir, "d.mkv");
    m.copy = tu_path(m.dir, "copy.mp4");
    char *skey = tu_path(m.dir, "k.key");
    FmError err;
    FmKey *dk = fm_key_new();
    cr_assert_eq(fm_key_derive(m.key, FM_KEY_DETECT, dk, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(m.key, skey, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(dk, m.dkey, 0, &err), 0, "%s", err.msg);
    fm_key_free(&dk);
    const char *emb[] = { FM_BUILD_DIR "/wmembed", "-k", skey, "-i", master, "-o", m.deliv,
                          "--codec", "ffv1", "--title-id", "43", "--recipient-id", "169",
                          "--issued", "2026-12-01T00:02Z", "--no-verify", "--no-registry", "-q",
                          NULL };
    cr_assert_eq(tu_run(emb, NULL, NULL), 0);
    free(skey);
    return m;
}

/* The deliverable through the filter vf and x264, then wmdetect --json:
 * asserts that it verifies for recipient 169; returns its geometry
 * (the JSON document's, to json_decref). */
static json_t *filter_detect(const Marked *m, const char *vf, json_t **geometry)
{
    cr_assert_eq(tu_sh("ffmpeg -nostdin -hide_banner -loglevel error -y -i '%s' -vf '%s' "
                       "-c:v libx264 -preset veryfast -crf 23 -threads 1 -pix_fmt yuv420p '%s'",
                       m->deliv, vf, m->copy),
                 0);
    char *out = NULL;
    const char *det[] = { FM_BUILD_DIR "/wmdetect", "-k", m->dkey, "--no-registry", "--json",
                          "-q", m->copy, NULL };
    int rc = tu_run(det, &out, NULL);
    json_error_t jerr;
    json_t *j = json_loads(out ? out : "", 0, &jerr);
    cr_assert(j, "%s: wmdetect --json: %s", vf, jerr.text);
    cr_log_info("%s: exit %d, pilot z %.1f", vf, rc,
                json_number_value(json_object_get(j, "pilot_z")));
    cr_assert_eq(rc, 0, "%s: exit %d: %s", vf, rc, out);
    cr_assert(json_is_true(json_object_get(j, "signature_valid")));
    cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), 169);
    free(out);
    *geometry = json_object_get(j, "geometry");
    return j;
}

static void marked_free(Marked *m)
{
    tu_rmtree(m->dir);
    free(m->dkey);
    free(m->deliv);
    free(m->copy);
    fm_key_free(&m->key);
}

static double number(json_t *o, const char *name)
{
    return json_number_value(json_object_get(o, name));
}

Test(geometry_rotate, turned_copies_of_a_static_picture_are_found_and_verified)
{
    Marked m = mark_master(FM_SOURCE_DIR "/samples/sample.mkv");
    static const double angles[] = { 1.0, -2.0 };
    for (size_t i = 0; i < sizeof angles / sizeof angles[0]; i++) {
        char vf[64];
        snprintf(vf, sizeof vf, "rotate=%g*PI/180:c=black", angles[i]);
        json_t *g, *j = filter_detect(&m, vf, &g);
        double deg = number(g, "rotation_deg");
        cr_log_info("turned %g deg: rotation %.2f deg", angles[i], deg);
        /* the evidence is turned back: the opposite angle, to the grid's step */
        cr_assert(fabs(deg + angles[i]) < 0.2, "turned %g deg: rotation %.2f deg", angles[i],
                  deg);
        /* format 7 reads turns through the patch-fitted map (geometry.h
         * step 4): its report carries the perspective flag */
        json_decref(j);
    }
    marked_free(&m);
}

Test(geometry_rotate, a_copy_seen_in_perspective_is_found_and_verified)
{
    char *dir = tu_mkdtemp(), *master = tu_path(dir, "pan.mkv");
    cr_assert_eq(tu_sh("ffmpeg -nostdin -hide_banner -loglevel error -y -i '%s' -vf "
                       "\"scale=1024:768,crop=768:576:x='t*25':y='t*15'\" -c:v ffv1 "
                       "-pix_fmt yuv420p '%s'",
                       FM_SOURCE_DIR "/samples/sample.mkv", master),
                 0);
    Marked m = mark_master(master);
    json_t *g, *j = filter_detect(&m, "perspective=x0=W*0.04:y0=H*0.03:x1=W*0.97:y1=H*0.01:"
                                     "x2=W*0.02:y2=H*0.98:x3=W*0.99:y3=H*0.96:"
                                     "interpolation=linear", &g);
    /* at the clip's centre the picture is enlarged ~1/0.95 and its rows
     * tilt by 0.02 of the height over the width (0.9 deg at 4:3) */
    cr_log_info("perspective: scale %.3f x %.3f, rotation %.2f deg", number(g, "scale_x"),
                number(g, "scale_y"), number(g, "rotation_deg"));
    cr_assert(json_is_true(json_object_get(g, "perspective")));
    cr_assert(fabs(number(g, "scale_x") - 1.053) < 0.02 && fabs(number(g, "scale_y") - 1.053) < 0.02,
              "scale %.3f x %.3f", number(g, "scale_x"), number(g, "scale_y"));
    cr_assert(fabs(number(g, "rotation_deg") + 0.86) < 0.3, "rotation %.2f",
              number(g, "rotation_deg"));
    json_decref(j);
    marked_free(&m);
    tu_rmtree(dir);
    free(master);
}
