/*
 * test_geometry_rotate.c - a turned copy found by the geometry search
 * (issue 8), end to end: the bundled sample (a static, textured 768x576
 * street camera) marked by wmembed (FFV1, a fixed issue time: the same mark
 * on every host), turned by ffmpeg's rotate filter (black corners) and
 * re-encoded by x264 (one thread: the same bytes everywhere). The detector
 * is told nothing; the angle must come out of the search and the payload
 * must verify. 0.7.2 read the angle from the strongest autocorrelation peak
 * near the x axis, which on this static picture was the picture's own
 * structure (a 1 deg turn read as 2.65 deg): both copies were absent.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <jansson.h>

#include "keys.h"
#include "payload.h"
#include "testutil.h"

TestSuite(geometry_rotate, .timeout = 600);

Test(geometry_rotate, turned_copies_of_a_static_picture_are_found_and_verified)
{
    FmPayload payload;
    uint8_t message[FM_MESSAGE_BYTES];
    FmKey *key = tu_signed_message(11, 43, 169, &payload, message);
    char *dir = tu_mkdtemp(), *skey = tu_path(dir, "k.key"), *dkey = tu_path(dir, "k.dkey"),
         *deliv = tu_path(dir, "d.mkv"), *copy = tu_path(dir, "copy.mp4");
    FmError err;
    FmKey *dk = fm_key_new();
    cr_assert_eq(fm_key_derive(key, FM_KEY_DETECT, dk, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(key, skey, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(dk, dkey, 0, &err), 0, "%s", err.msg);
    fm_key_free(&dk);
    const char *emb[] = { FM_BUILD_DIR "/wmembed", "-k", skey, "-i",
                          FM_SOURCE_DIR "/samples/sample.mkv", "-o", deliv, "--codec", "ffv1",
                          "--title-id", "43", "--recipient-id", "169",
                          "--issued", "2026-12-01T00:02Z", "--no-verify",
                          "--no-registry", "-q", NULL };
    cr_assert_eq(tu_run(emb, NULL, NULL), 0);
    static const double angles[] = { 1.0, -2.0 };
    for (size_t i = 0; i < sizeof angles / sizeof angles[0]; i++) {
        cr_assert_eq(tu_sh("ffmpeg -nostdin -hide_banner -loglevel error -y -i '%s' "
                           "-vf 'rotate=%g*PI/180:c=black' -c:v libx264 -preset veryfast "
                           "-crf 23 -threads 1 -pix_fmt yuv420p '%s'", deliv, angles[i], copy),
                     0);
        char *out = NULL;
        const char *det[] = { FM_BUILD_DIR "/wmdetect", "-k", dkey, "--no-registry", "--json",
                              "-q", copy, NULL };
        int rc = tu_run(det, &out, NULL);
        json_error_t jerr;
        json_t *j = json_loads(out ? out : "", 0, &jerr);
        cr_assert(j, "turned %g deg: wmdetect --json: %s", angles[i], jerr.text);
        double deg = json_number_value(json_object_get(json_object_get(j, "geometry"),
                                                       "rotation_deg"));
        cr_log_info("turned %g deg: exit %d, pilot z %.1f, rotation %.2f deg", angles[i], rc,
                    json_number_value(json_object_get(j, "pilot_z")), deg);
        cr_assert_eq(rc, 0, "turned %g deg: exit %d: %s", angles[i], rc, out);
        cr_assert(json_is_true(json_object_get(j, "signature_valid")));
        cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), 169);
        /* the evidence is turned back: the opposite angle, to the grid's step */
        cr_assert(fabs(deg + angles[i]) < 0.2, "turned %g deg: rotation %.2f deg", angles[i],
                  deg);
        json_decref(j);
        free(out);
    }
    tu_rmtree(dir);
    free(skey);
    free(dkey);
    free(deliv);
    free(copy);
    fm_key_free(&key);
}
