/*
 * test_options.c - the command lines a user mistypes get messages that name
 * what was typed; --version on every tool; times as ffmpeg writes them.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *run_err(int want_rc, const char *const argv[])
{
    char *out = NULL, *err = NULL;
    int rc = tu_run(argv, &out, &err);
    cr_assert_eq(rc, want_rc, "%s: exit %d (stderr: %s)", argv[1] ? argv[1] : "", rc, err);
    free(out);
    return err;
}

static void expect(const char *tool, const char *const args[], const char *want)
{
    const char *argv[16] = { tool };
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char *err = run_err(2, argv);
    cr_assert_not_null(strstr(err, want), "%s: want \"%s\", got: %s", tool, want, err);
    cr_assert_eq(tu_count_lines(err), 1, "%s", err);
    free(err);
}

#define WMEMBED FM_BUILD_DIR "/wmembed"
#define WMDETECT FM_BUILD_DIR "/wmdetect"
#define WMVERIFY FM_BUILD_DIR "/wmverify"
#define WMKEYGEN FM_BUILD_DIR "/wmkeygen"

Test(options, errors_name_the_argument_as_typed)
{
    /* the bug: "unknown option studio.key" for a letter inside "-xq" */
    expect(WMEMBED, (const char *[]){ "-k", "studio.key", "-xq", NULL }, "unknown option -x");
    expect(WMEMBED, (const char *[]){ "--rec", "1", NULL }, "ambiguous option --rec");
    expect(WMEMBED, (const char *[]){ "--json=1", NULL }, "option --json does not take a value");
    expect(WMEMBED, (const char *[]){ "--bogus", NULL }, "unknown option --bogus");
    expect(WMEMBED, (const char *[]){ "-k", NULL }, "option -k needs a value");
    expect(WMEMBED, (const char *[]){ "--key", NULL }, "option --key needs a value");
    expect(WMDETECT, (const char *[]){ "-qz", "x", NULL }, "unknown option -z");
    expect(WMDETECT, (const char *[]){ "--start", NULL }, "option --start needs a value");
    expect(WMDETECT, (const char *[]){ "--start", "1:xx", "x", NULL }, "--start '1:xx' is not a time");
    expect(WMVERIFY, (const char *[]){ "-p", NULL }, "option -p needs a value");
    /* wmkeygen through the same fm_option_error as the others */
    expect(WMKEYGEN, (const char *[]){ "-o", "k", "-xq", NULL }, "unknown option -x");
    expect(WMKEYGEN, (const char *[]){ "--l", NULL }, "ambiguous option --l: --label, --list?");
    expect(WMKEYGEN, (const char *[]){ "--force=1", NULL }, "option --force does not take a value");
    expect(WMKEYGEN, (const char *[]){ "--bogus", NULL }, "unknown option --bogus");
    expect(WMKEYGEN, (const char *[]){ "-o", NULL }, "option -o needs a value");
    expect(WMKEYGEN, (const char *[]){ "--label", NULL }, "option --label needs a value");
    expect(WMEMBED, (const char *[]){ "-k", "a.key", "-i", "m", "-o", "o", "--title-id", "1",
                                      "--recipient-id", "1", "--issued", "2026-11-23T19:25+7",
                                      NULL }, "--issued '2026-11-23T19:25+7' is not a time");
}

Test(options, every_tool_has_a_version)
{
    const char *tools[] = { WMEMBED, WMDETECT, WMVERIFY, FM_BUILD_DIR "/wmkeygen",
                            FM_BUILD_DIR "/wmregistry" };
    for (size_t i = 0; i < 5; i++) {
        char *out = NULL;
        const char *argv[] = { tools[i], "--version", NULL };
        cr_assert_eq(tu_run(argv, &out, NULL), 0);
        cr_assert_not_null(strstr(out, "(filmmark) " FM_VERSION ", mark format 7"), "%s", out);
        free(out);
        const char *argv2[] = { tools[i], "-V", "--json", NULL };
        cr_assert_eq(tu_run(argv2, &out, NULL), 0);
        json_t *j = json_loads(out, 0, NULL);
        cr_assert_not_null(j, "%s", out);
        cr_assert_str_eq(json_string_value(json_object_get(j, "version")), FM_VERSION);
        cr_assert_eq(json_integer_value(json_object_get(j, "mark_format")), 7);
        json_decref(j);
        free(out);
    }
}

Test(options, json_runs_that_fail_print_a_json_error)
{
    const char *argv[] = { WMDETECT, "-k", "/nonexistent.dkey", "--json", "clip.mp4", NULL };
    char *out = NULL, *err = NULL;
    cr_assert_eq(tu_run(argv, &out, &err), 2);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "stdout is not JSON: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "schema")), "filmmark-error-1");
    cr_assert_eq(json_integer_value(json_object_get(j, "exit_status")), 2);
    cr_assert_not_null(strstr(err, json_string_value(json_object_get(j, "error"))));
    json_decref(j);
    free(out);
    free(err);
    const char *argv2[] = { WMEMBED, "-k", "/nonexistent.key", "-i", "/nonexistent.mkv", "-o",
                            "/tmp/x.webm", "--title-id", "1", "--recipient-id", "1", "--json",
                            NULL };
    cr_assert_eq(tu_run(argv2, &out, NULL), 2);
    j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "stdout is not JSON: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "tool")), "wmembed");
    json_decref(j);
    free(out);
}
