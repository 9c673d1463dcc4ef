/*
 * test_format2.c - marks written by filmmark 0.2.0 (mark format 2, the
 * convolutional code) are still read and verified by wmdetect, and said to
 * be format 2 (tests/data/format2/README).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define FIXTURE FM_SOURCE_DIR "/tests/data/format2/"
#define CLIP FIXTURE "sample-480x270-format2.mkv"

static json_t *detect_json(const char *extra)
{
    char *d = tu_mkdtemp();
    char *dkey = tu_path(d, "fixture.dkey"), *out = tu_path(d, "out.json");
    char *data;
    size_t len;
    /* key files are refused unless private: git does not keep the mode */
    cr_assert_eq(tu_read_file(FIXTURE "fixture.dkey", &data, &len), 0);
    cr_assert_eq(tu_write_file(dkey, data, len, 0600), 0);
    free(data);
    int rc = tu_sh("'%s/wmdetect' -k '%s' --no-registry --json %s '%s' > '%s'", FM_BUILD_DIR, dkey,
                   extra, CLIP, out);
    cr_assert_eq(rc, 0, "wmdetect exit %d", rc);
    json_error_t jerr;
    json_t *j = json_load_file(out, 0, &jerr);
    cr_assert_not_null(j, "%s", jerr.text);
    free(dkey);
    free(out);
    tu_rmtree(d);
    return j;
}

Test(format2, a_format2_deliverable_verifies_and_is_said_to_be_format_2, .timeout = 120)
{
    json_t *j = detect_json("");
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "verified");
    cr_assert_eq(json_integer_value(json_object_get(j, "mark_format")), 2);
    cr_assert_eq(json_integer_value(json_object_get(j, "title_id")), 4242);
    cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), 17);
    cr_assert_str_eq(json_string_value(json_object_get(j, "issued")), "2026-12-01T12:00Z");
    json_decref(j);
}

Test(format2, its_receipt_names_the_recipient, .timeout = 120)
{
    json_t *j = detect_json("--receipt '" CLIP ".receipt.json'");
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "verified");
    cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), 17);
    json_decref(j);
}
