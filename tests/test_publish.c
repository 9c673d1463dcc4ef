/*
 * test_publish.c - a deliverable proves its own mark before it is published;
 * receipt and deliverable appear together or not at all, whatever signal
 * arrives when; runs killed outright leave temporaries the next run removes;
 * a screener batch (wmembed --recipients) writes one verified deliverable
 * per recipient from one decode.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "keys.h"
#include "recipients.h"
#include "naming.h"
#include "version.h"
#include "testutil.h"

#define FFMPEG "ffmpeg -nostdin -hide_banner -loglevel error -y"
#define WMEMBED FM_BUILD_DIR "/wmembed"
#define WMDETECT FM_BUILD_DIR "/wmdetect"

static char *dir, *key, *dkey, *master;

static void setup(void)
{
    dir = tu_mkdtemp();
    key = tu_path(dir, "k.key");
    dkey = tu_path(dir, "k.dkey");
    master = tu_path(dir, "master.mp4");
    /* a fixed key: the weak-mark cases below depend on the pattern */
    FmError err;
    cr_assert_eq(fm_init(&err), 0);
    FmKey *sk = fm_key_new(), *dk = fm_key_new();
    tu_fixed_key(sk, 11);
    cr_assert_eq(fm_key_derive(sk, FM_KEY_DETECT, dk, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(sk, key, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_key_save(dk, dkey, 0, &err), 0, "%s", err.msg);
    fm_key_free(&sk);
    fm_key_free(&dk);
    /* 3 s, 640x360: the mark's smallest grid, cheap to encode and read back */
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=size=640x360:rate=24:duration=3 "
                       "-c:v libx264 -crf 12 -pix_fmt yuv420p '%s'", master), 0);
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(key);
    free(dkey);
    free(master);
}

TestSuite(publish, .init = setup, .fini = teardown, .timeout = 300);

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Entries of dir whose name starts with '.' (our temporaries are hidden). */
static int hidden_entries(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (dp)
        closedir(dp);
    return n;
}

static json_t *parse(const char *text, const char *what)
{
    json_error_t je;
    json_t *j = json_loads(text ? text : "", 0, &je);
    cr_assert_not_null(j, "%s: not JSON (%s): %s", what, je.text, text ? text : "");
    return j;
}

Test(publish, deliverable_checks_its_own_mark)
{
    char *out = tu_path(dir, "ok.webm"), *o = NULL, *e = NULL;
    const char *argv[] = { WMEMBED, "-k", key, "-i", master, "-o", out, "--title-id", "5",
                           "--recipient-id", "6", "--json", "-q", NULL };
    int rc = tu_run(argv, &o, &e);
    cr_assert_eq(rc, 0, "wmembed: %d: %s", rc, e);
    json_t *j = parse(o, "wmembed --json");
    json_t *sc = json_object_get(j, "self_check");
    cr_assert(json_is_true(json_object_get(sc, "message_match")), "self_check: %s", o);
    cr_assert_gt(json_number_value(json_object_get(sc, "pilot_z")), 5.0);
    cr_assert_gt(json_number_value(json_object_get(sc, "seconds_read")), 2.5);
    json_decref(j);

    char *rp = tu_path(dir, "ok.webm.receipt.json"), *text;
    size_t len;
    cr_assert_eq(tu_read_file(rp, &text, &len), 0);
    j = parse(text, "receipt");
    sc = json_object_get(json_object_get(j, "receipt"), "self_check");
    cr_assert(json_is_true(json_object_get(sc, "signature_valid")), "receipt: %s", text);
    json_decref(j);
    free(text);
    free(rp);
    free(o);
    free(e);
    free(out);
}

Test(publish, deliverable_whose_mark_does_not_verify_is_refused)
{
    /* --strength 0.05 gives a deliverable in which wmdetect finds nothing */
    char *out = tu_path(dir, "weak.webm"), *e = NULL;
    const char *argv[] = { WMEMBED, "-k", key, "-i", master, "-o", out, "--title-id", "5",
                           "--recipient-id", "6", "--strength", "0.05", "-q", NULL };
    int rc = tu_run(argv, NULL, &e);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, e);
    cr_assert_not_null(strstr(e, "does not verify"), "%s", e);
    cr_assert_eq(tu_count_lines(e), 1, "%s", e);
    cr_assert(!exists(out), "a deliverable that does not verify was published");
    char *rp = tu_path(dir, "weak.webm.receipt.json");
    cr_assert(!exists(rp), "a receipt for a deliverable that does not verify");
    cr_assert_eq(hidden_entries(dir), 0, "a temporary was left behind");
    free(e);

    /* --no-verify: the user's choice, and the receipt says it was not checked */
    const char *argv2[] = { WMEMBED, "-k", key, "-i", master, "-o", out, "--title-id", "5",
                            "--recipient-id", "6", "--strength", "0.05", "-q", "--no-verify",
                            NULL };
    cr_assert_eq(tu_run(argv2, NULL, NULL), 0);
    char *text;
    size_t len;
    cr_assert_eq(tu_read_file(rp, &text, &len), 0);
    json_t *j = parse(text, "receipt");
    json_t *sc = json_object_get(json_object_get(j, "receipt"), "self_check");
    cr_assert(sc && json_is_null(sc), "self_check should be null: %s", text);
    json_decref(j);
    free(text);
    free(rp);
    free(out);
}

Test(publish, failed_receipt_leaves_no_deliverable)
{
    /* the receipt cannot be put in place (its name is a non-empty directory):
     * before, the deliverable was already renamed and stayed without one */
    char *out = tu_path(dir, "r.webm"), *rp = tu_path(dir, "r.webm.receipt.json");
    cr_assert_eq(mkdir(rp, 0755), 0);
    char *inside = tu_path(rp, "x");
    cr_assert_eq(tu_write_file(inside, "x", 1, 0644), 0);
    char *e = NULL;
    const char *argv[] = { WMEMBED, "-k", key, "-i", master, "-o", out, "--title-id", "5",
                           "--recipient-id", "6", "-q", "--force", NULL };
    int rc = tu_run(argv, NULL, &e);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, e);
    cr_assert(!exists(out), "a deliverable was published without its receipt");
    cr_assert_eq(hidden_entries(dir), 0, "a temporary was left behind");
    free(e);
    free(inside);
    free(rp);
    free(out);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

Test(publish, disk_full_while_the_receipt_is_written_leaves_no_deliverable)
{
    /* a deliverable of a few kB and a receipt made larger by long names: a
     * file size limit between the two lets the deliverable be written whole
     * and fails the receipt's write (EFBIG), as a disk filling up at that
     * moment would. Before: the deliverable stayed under its final name
     * without a receipt. */
    char *tiny = tu_path(dir, "tiny.mp4"), *out = tu_path(dir, "t.webm"),
         *rp = tu_path(dir, "t.webm.receipt.json");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=size=64x48:rate=10:duration=0.3 "
                       "-c:v libx264 -pix_fmt yuv420p '%s'", tiny), 0);
    char name[601];
    memset(name, 'n', 600);
    name[600] = 0;
    const char *argv[] = { WMEMBED, "-k", key, "-i", tiny, "-o", out, "--title-id", "5",
                           "--recipient-id", "6", "--owner", name, "--title", name,
                           "--recipient", name, "--no-verify", "--no-registry", "-q", "--force",
                           NULL };
    char *e = NULL;
    int rc = tu_run(argv, NULL, &e);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, e);
    free(e);
    long d = file_size(out), r = file_size(rp);
    cr_assert(d > 0 && r > d + 200, "deliverable %ld bytes, receipt %ld: the case needs a "
              "receipt larger than the deliverable", d, r);
    unlink(out);
    unlink(rp);
    rc = tu_run_limited(argv, NULL, &e, (d + r) / 2);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, e);
    cr_assert(strstr(e, "receipt") && strstr(e, "File too large"), "%s", e);
    cr_assert(!exists(out), "the deliverable was published without its receipt");
    cr_assert(!exists(rp), "a partial receipt was left");
    cr_assert_eq(hidden_entries(dir), 0, "a temporary was left behind");
    free(e);
    free(rp);
    free(out);
    free(tiny);
}

static pid_t spawn_embed(const char *out)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
        execl(WMEMBED, "wmembed", "-k", key, "-i", master, "-o", out, "--title-id", "5",
              "--recipient-id", "6", "-q", "--force", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

Test(publish, a_signal_at_any_moment_gives_all_or_nothing)
{
    char *out = tu_path(dir, "s.webm"), *rp = tu_path(dir, "s.webm.receipt.json");
    /* how long a whole run takes here: the shorter of two, so that a run
     * slowed by other work on the machine does not put every signal after
     * the end */
    double whole = 0;
    int st;
    pid_t pid;
    for (int i = 0; i < 2; i++) {
        double t0 = now_s();
        pid = spawn_embed(out);
        waitpid(pid, &st, 0);
        double t = now_s() - t0;
        whole = i == 0 || t < whole ? t : whole;
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        unlink(out);
        unlink(rp);
    }

    /* SIGTERM and SIGQUIT from the first frames to the encoder flush, the
     * self-check, the hashing and the receipt (a quarter of the way in too:
     * a machine whose load drops after the timing above runs faster, and
     * the late signals may then come after the end) */
    static const double at[] = { 0.25, 0.5, 0.85, 0.95 };
    static const int sigs[] = { SIGTERM, SIGQUIT };
    int refused = 0;
    for (size_t k = 0; k < sizeof(at) / sizeof(*at); k++) {
        for (size_t s = 0; s < 2; s++) {
            pid = spawn_embed(out);
            usleep((useconds_t)(at[k] * whole * 1e6));
            kill(pid, sigs[s]);
            waitpid(pid, &st, 0);
            cr_assert(WIFEXITED(st), "wmembed died of signal %d instead of cleaning up",
                      WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            int code = WEXITSTATUS(st);
            if (code == 0) {
                /* finished before the signal could stop it: both files whole */
                cr_assert(exists(out) && exists(rp), "exit 0 without deliverable and receipt");
                unlink(out);
                unlink(rp);
            } else {
                cr_assert_eq(code, 2);
                cr_assert(!exists(out), "interrupted at %.0f %%: deliverable left", 100 * at[k]);
                cr_assert(!exists(rp), "interrupted at %.0f %%: receipt left", 100 * at[k]);
                refused++;
            }
            cr_assert_eq(hidden_entries(dir), 0, "interrupted at %.0f %%: temporary left",
                         100 * at[k]);
        }
    }
    cr_assert_geq(refused, 3, "only %d of 8 runs were interrupted", refused);
    free(rp);
    free(out);
}

Test(publish, a_killed_run_leaves_a_temporary_the_next_run_removes)
{
    char *out = tu_path(dir, "k.webm");
    pid_t pid = spawn_embed(out);
    /* wait for the temporary to appear, then kill without a chance to clean */
    for (int i = 0; i < 400 && hidden_entries(dir) == 0; i++)
        usleep(10000);
    cr_assert_gt(hidden_entries(dir), 0, "no temporary appeared");
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert_eq(hidden_entries(dir), 1, "SIGKILL should leave the temporary");
    pid = spawn_embed(out);
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    cr_assert(exists(out));
    cr_assert_eq(hidden_entries(dir), 0, "the stale temporary was not removed");
    free(out);
}

Test(publish, stale_temporaries_only_when_no_writer_holds_them)
{
    char *final = tu_path(dir, "x.mkv");
    FmTempFile live, dead;
    FmError err;
    cr_assert_eq(fm_temp_open(&live, final, 0644, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_temp_open(&dead, final, 0644, 0, &err), 0, "%s", err.msg);
    /* a writer that died: its descriptor (and lock) gone, the file left */
    close(dead.fd);
    dead.fd = -1;
    char *other = tu_path(dir, ".x.mkv.partial-notours");
    cr_assert_eq(tu_write_file(other, "x", 1, 0644), 0);
    cr_assert_eq(fm_remove_stale_temps(final, &err), 1);
    cr_assert(exists(live.path), "the live writer's temporary was removed");
    cr_assert(!exists(dead.path), "the dead writer's temporary stayed");
    cr_assert(exists(other), "a file of another naming was removed");
    cr_assert_eq(fm_temp_write(&live, "abc", 3, &err), 0);
    cr_assert_eq(fm_temp_sync(&live, &err), 0);
    cr_assert_eq(fm_temp_publish(&live, final, &err), 0, "%s", err.msg);
    fm_temp_discard(&live);
    dead.published = 1;     /* already gone */
    fm_temp_discard(&dead);
    cr_assert(exists(final));
    free(other);
    free(final);
}

Test(publish, publishing_new_refuses_an_existing_name_and_leaves_no_temporary)
{
    char *final = tu_path(dir, "k.pub");
    FmTempFile t;
    FmError err = { { 0 } };
    cr_assert_eq(fm_temp_open(&t, final, 0644, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_temp_write(&t, "new", 3, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_temp_sync(&t, &err), 0, "%s", err.msg);
    /* the name appears between the check and the publication */
    cr_assert_eq(tu_write_file(final, "old", 3, 0644), 0);
    cr_assert_eq(fm_temp_publish_new(&t, final, &err), FM_EPERM);
    cr_assert_not_null(strstr(err.msg, "exists; use --force to overwrite"), "%s", err.msg);
    char *text;
    cr_assert_eq(tu_read_file(final, &text, NULL), 0);
    cr_assert_str_eq(text, "old");
    free(text);
    cr_assert_eq(hidden_entries(dir), 1, "the temporary is the caller's until discarded");
    fm_temp_discard(&t);
    cr_assert_eq(hidden_entries(dir), 0);

    /* a free name: published with its mode, the temporary's name gone */
    cr_assert_eq(unlink(final), 0);
    cr_assert_eq(fm_temp_open(&t, final, 0644, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_temp_write(&t, "new", 3, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_temp_publish_new(&t, final, &err), 0, "%s", err.msg);
    cr_assert_eq(hidden_entries(dir), 0);
    fm_temp_discard(&t);
    cr_assert_eq(tu_read_file(final, &text, NULL), 0);
    cr_assert_str_eq(text, "new");
    free(text);
    struct stat st;
    cr_assert_eq(stat(final, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);

    /* the one-call form: refused without force, replaced with it */
    cr_assert_eq(fm_file_write_atomic(final, "again", 5, 0600, 0, 0, &err), FM_EPERM);
    cr_assert_eq(fm_file_write_atomic(final, "again", 5, 0600, 0, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(tu_read_file(final, &text, NULL), 0);
    cr_assert_str_eq(text, "again");
    free(text);
    cr_assert_eq(stat(final, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(hidden_entries(dir), 0);
    free(final);
}

Test(publish, recipients_list_parses_as_csv)
{
    const char *text = "id,name,output\r\n"
                       "1,\"Smith, Jo\",a.webm\r\n"
                       "\r\n"
                       "2,\"Festival \"\"Jury\"\"\",b.webm\n"
                       "3,,c.mkv";
    FmRecipient *l;
    size_t n;
    FmError err;
    cr_assert_eq(fm_recipients_parse(text, strlen(text), &l, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3);
    cr_assert_eq(l[0].id, 1);
    cr_assert_str_eq(l[0].name, "Smith, Jo");
    cr_assert_str_eq(l[1].name, "Festival \"Jury\"");
    cr_assert_str_eq(l[2].name, "");
    cr_assert_str_eq(l[2].output, "c.mkv");
    fm_recipients_free(&l, n);

    /* no header is fine too */
    cr_assert_eq(fm_recipients_parse("9,x,y.webm\n", 11, &l, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 1);
    fm_recipients_free(&l, n);

    static const struct { const char *text, *want; } bad[] = {
        { "1,a,x.webm\n1,b,y.webm\n", "record 2: id 1 appears twice" },
        { "1,a,x.webm\n2,b,x.webm\n", "record 2: output 'x.webm' appears twice" },
        { "1,a\n", "record 1: 2 fields" },
        { "1,a,b,c\n", "record 1: 4 fields" },
        { "x,a,b.webm\n", "record 1: id 'x'" },
        { "1,a,\n", "record 1: no output" },
        { "1,\"a,b.webm\n", "record 1" },
        { "id,name,output\n", "empty" },
        { "", "empty" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cr_assert_lt(fm_recipients_parse(bad[i].text, strlen(bad[i].text), &l, &n, &err), 0,
                     "accepted: %s", bad[i].text);
        cr_assert_not_null(strstr(err.msg, bad[i].want), "'%s': %s", bad[i].text, err.msg);
    }
}

Test(publish, batch_of_three_recipients_from_one_decode)
{
    char *list = tu_path(dir, "list.csv");
    char text[1024];
    snprintf(text, sizeof(text), "id,name,output\n"
             "101,\"Critic, A\",%s/a.webm\n102,Jury B,%s/b.webm\n103,,%s/c.webm\n", dir, dir, dir);
    cr_assert_eq(tu_write_file(list, text, strlen(text), 0644), 0);
    char *o = NULL, *e = NULL;
    const char *argv[] = { WMEMBED, "-k", key, "-i", master, "--recipients", list,
                           "--title-id", "77", "--batch-size", "2", "--json", "-q", NULL };
    int rc = tu_run(argv, &o, &e);
    cr_assert_eq(rc, 0, "wmembed --recipients: %d: %s", rc, e);
    json_t *j = parse(o, "wmembed --recipients --json");
    cr_assert_eq(json_integer_value(json_object_get(j, "recipients")), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "written")), 3);
    cr_assert_eq(json_integer_value(json_object_get(j, "decode_passes")), 2);
    json_t *ds = json_object_get(j, "deliverables");
    cr_assert_eq(json_array_size(ds), 3);
    static const char *names[] = { "a", "b", "c" };
    static const char *who[] = { "Critic, A", "Jury B", "" };
    for (int i = 0; i < 3; i++) {
        json_t *d = json_array_get(ds, i);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "payload"),
                                                        "recipient_id")), 101 + i);
        cr_assert_str_eq(json_string_value(json_object_get(d, "recipient")), who[i]);
        cr_assert(json_is_true(json_object_get(json_object_get(d, "self_check"),
                                               "message_match")));
        /* each deliverable, read blind, names its own recipient */
        char name[16], *clip, *dout = NULL;
        snprintf(name, sizeof(name), "%s.webm", names[i]);
        clip = tu_path(dir, name);
        const char *det[] = { WMDETECT, "-k", dkey, "--json", "-q", clip, NULL };
        cr_assert_eq(tu_run(det, &dout, NULL), 0, "wmdetect %s", name);
        json_t *dj = parse(dout, "wmdetect --json");
        cr_assert_eq(json_integer_value(json_object_get(dj, "recipient_id")), 101 + i);
        cr_assert_eq(json_integer_value(json_object_get(dj, "title_id")), 77);
        json_decref(dj);
        free(dout);
        free(clip);
    }
    json_decref(j);
    free(o);
    free(e);

    /* a bad list: nothing is written, the error names the record */
    snprintf(text, sizeof(text), "1,x,%s/d.webm\n1,y,%s/e.webm\n", dir, dir);
    cr_assert_eq(tu_write_file(list, text, strlen(text), 0644), 0);
    const char *argv2[] = { WMEMBED, "-k", key, "-i", master, "--recipients", list,
                            "--title-id", "77", "-q", NULL };
    rc = tu_run(argv2, NULL, &e);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(e, "record 2"), "%s", e);
    char *dpath = tu_path(dir, "d.webm");
    cr_assert(!exists(dpath));
    free(dpath);
    free(e);
    free(list);
}

/* Four recipients' deliverables of one title mixed frame by frame (FFV1),
 * into dir/mix4.mkv; with reg, their issuances are recorded there. */
static char *make_mix4(const char *reg)
{
    char *outs[4], *mix = tu_path(dir, "mix4.mkv");
    for (int i = 0; i < 4; i++) {
        char name[16], id[4];
        snprintf(name, sizeof(name), "c%d.mkv", i + 1);
        snprintf(id, sizeof(id), "%d", i + 1);
        outs[i] = tu_path(dir, name);
        const char *argv[] = { WMEMBED, "-k", key, "-i", master, "-o", outs[i], "--codec", "ffv1",
                               "--title-id", "9", "--recipient-id", id, "--issued",
                               "2026-12-01T00:00Z", "--no-verify", reg ? "--registry" : "-q",
                               reg ? reg : "-q", "-q", NULL };
        cr_assert_eq(tu_run(argv, NULL, NULL), 0);
    }
    cr_assert_eq(tu_sh(FFMPEG " -i '%s' -i '%s' -i '%s' -i '%s' -filter_complex mix=inputs=4 "
                       "-c:v ffv1 '%s'", outs[0], outs[1], outs[2], outs[3], mix), 0);
    for (int i = 0; i < 4; i++)
        free(outs[i]);
    return mix;
}

Test(publish, an_unverified_mark_gives_no_ids)
{
    /* four copies mixed: the pilot is there, no payload decodes; the ids the
     * decoder guessed must not be printed, and the mix is called what it is */
    char *mix = make_mix4(NULL), *o = NULL;
    const char *det[] = { WMDETECT, "-k", dkey, "--no-registry", "--json", "-q", mix, NULL };
    int rc = tu_run(det, &o, NULL);
    cr_assert_eq(rc, 3, "exit %d: %s", rc, o);
    json_t *j = parse(o, "wmdetect --json");
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "present_unverified");
    cr_assert(json_is_true(json_object_get(j, "superimposed")), "%s", o);
    static const char *hidden[] = { "title_id", "recipient_id", "issued", "ai_use", "message_hex" };
    for (size_t i = 0; i < sizeof(hidden) / sizeof(*hidden); i++)
        cr_assert(json_is_null(json_object_get(j, hidden[i])), "%s is not null: %s", hidden[i], o);
    json_decref(j);
    free(o);
    const char *det_text[] = { WMDETECT, "-k", dkey, "--no-registry", mix, NULL };
    cr_assert_eq(tu_run(det_text, &o, NULL), 3);
    cr_assert_not_null(strstr(o, "not verified"), "%s", o);
    cr_assert_not_null(strstr(o, "several marks"), "%s", o);
    cr_assert_null(strstr(o, "recipient id:"), "ids printed for an unverified mark: %s", o);
    free(o);
    free(mix);
}

Test(publish, progress_for_farm_logs)
{
    char *pf = tu_path(dir, "progress.txt"), *text;
    size_t len;
    const char *argv[] = { WMDETECT, "-k", dkey, "-q", "--progress", pf, "--loglevel", "error",
                           master, NULL };
    cr_assert_eq(tu_run(argv, NULL, NULL), 1);   /* the master is unmarked */
    cr_assert_eq(tu_read_file(pf, &text, &len), 0);
    cr_assert_not_null(strstr(text, "frame=72\n"), "%s", text);
    cr_assert_not_null(strstr(text, "progress=end\n"), "%s", text);
    free(text);
    const char *bad[] = { WMDETECT, "-k", dkey, "--loglevel", "loud", master, NULL };
    cr_assert_eq(tu_run(bad, NULL, NULL), 2);
    free(pf);
}

Test(publish, batch_pictures_do_not_depend_on_the_batch_size)
{
    /* one decode for two deliverables (their workers run side by side)
     * gives the very pictures that one decode each gives */
    char *list = tu_path(dir, "l.csv"), text[1024];
    snprintf(text, sizeof(text), "1,,%s/x1.mkv\n2,,%s/x2.mkv\n", dir, dir);
    cr_assert_eq(tu_write_file(list, text, strlen(text), 0644), 0);
    char md5[2][2][64];
    for (int pass = 0; pass < 2; pass++) {
        const char *argv[] = { WMEMBED, "-k", key, "-i", master, "--recipients", list,
                               "--title-id", "3", "--codec", "ffv1", "--issued",
                               "2026-12-01T00:00Z", "--no-verify", "-q", "--force",
                               "--batch-size", pass ? "2" : "1", NULL };
        cr_assert_eq(tu_run(argv, NULL, NULL), 0);
        for (int i = 0; i < 2; i++) {
            char *out = NULL, *mf = tu_path(dir, "md5.txt");
            cr_assert_eq(tu_sh(FFMPEG " -i '%s/x%d.mkv' -f framemd5 - | grep -v '^#' | md5sum "
                               "> '%s'", dir, i + 1, mf), 0);
            size_t len;
            cr_assert_eq(tu_read_file(mf, &out, &len), 0);
            snprintf(md5[pass][i], sizeof(md5[pass][i]), "%.32s", out);
            free(out);
            free(mf);
        }
    }
    cr_assert_str_eq(md5[0][0], md5[1][0]);
    cr_assert_str_eq(md5[0][1], md5[1][1]);
    cr_assert_str_neq(md5[0][0], md5[0][1], "two recipients got the same pictures");
    free(list);
}

#include "payload.h"
#include "registry.h"

/* 200 recipients of title 9, same issue minute, that were not in the clip */
static void add_innocents(const char *reg)
{
    FmError err;
    FmRegistry *r = NULL;
    FmKey *k = fm_key_new();
    cr_assert_eq(fm_key_load(k, key, FM_KEY_SECRET, &err), 0, "%s", err.msg);
    cr_assert_eq(fm_registry_open(&r, reg, &err), 0, "%s", err.msg);
    for (uint32_t i = 100; i < 300; i++) {
        FmPayload p = { .version = FM_PAYLOAD_VERSION, .title_id = 9, .recipient_id = i,
                        .issued_minutes = 29934720u, .ai_use = FM_AI_USE_RESERVED };
        FmIssuance iss = { .output_name = "other.mkv", .codec = "ffv1", .crf = -1,
                           .strength = 1.0 };
        cr_assert_eq(fm_payload_sign(&p, k, iss.message, &err), 0);
        fm_key_fingerprint(k, iss.key_fingerprint);
        snprintf(iss.output_sha256, sizeof(iss.output_sha256), "%064x", i);
        int64_t id;
        cr_assert_geq(fm_registry_add(r, &iss, k, &id, &err), 0, "%s", err.msg);
    }
    fm_registry_close(&r);
    fm_key_free(&k);
}

static json_t *detect_with(const char *reg, const char *clip, int want_rc)
{
    char *o = NULL;
    const char *det[] = { WMDETECT, "-k", dkey, "--registry", reg, "--json", "-q", clip, NULL };
    int rc = tu_run(det, &o, NULL);
    cr_assert_eq(rc, want_rc, "exit %d: %s", rc, o);
    json_t *j = parse(o, "wmdetect --registry --json");
    free(o);
    return j;
}

/* A weak mark (strength: 0.15 is too weak for the blind detector of format
 * 7 on this master, pilot z ~ 7, no decode) for recipient 7 of title 9,
 * recorded by wmembed in reg, which also gets 200 innocents. The weak marks
 * of these tests are made with --no-fill: at a low strength the fill would
 * raise them towards the (then tighter) SSIM floor, up to 1.41 times, and
 * the amplitude each test is calibrated for would move with the content. */
static void issue_weak(const char *reg, const char *weak, const char *strength)
{
    const char *argv[] = { WMEMBED, "-k", key, "-i", master, "-o", weak, "--codec", "ffv1",
                           "--title-id", "9", "--recipient-id", "7", "--strength", strength,
                           "--issued", "2026-12-01T00:00Z", "--no-verify", "--no-fill", "--registry",
                           reg, "-q", NULL };
    cr_assert_eq(tu_run(argv, NULL, NULL), 0);
    add_innocents(reg);
}

Test(publish, the_registry_names_a_recipient_blind_decoding_cannot)
{
    char *reg = tu_path(dir, "reg.sqlite"), *weak = tu_path(dir, "weak.mkv");
    issue_weak(reg, weak, "0.15");
    const char *blind[] = { WMDETECT, "-k", dkey, "--no-registry", "-q", weak, NULL };
    int brc = tu_run(blind, NULL, NULL);
    cr_assert(brc == 1 || brc == 3, "the blind detector read it (exit %d): too strong a test", brc);
    json_t *j = detect_with(reg, weak, 0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "named");
    cr_assert_str_eq(json_string_value(json_object_get(j, "identified_by")), "registry");
    cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), 7);
    cr_assert_eq(json_integer_value(json_object_get(j, "candidates_tested")), 201);
    /* wmembed recorded the leaker's format (one mask); the 200 added here
     * without one are scored under every mask */
    cr_assert_eq(json_integer_value(json_object_get(j, "masks_tested")),
                 1 + FM_NAMING_FORMATS * 200);
    json_t *named = json_object_get(j, "named");
    cr_assert_eq(json_array_size(named), 1);
    cr_assert_leq(json_number_value(json_object_get(json_array_get(named, 0),
                                                    "false_alarm_log10")), -9.0);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(named, 0),
                                                    "recorded_mark_format")),
                 FM_MARK_FORMAT);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(named, 0), "masks")), 1);
    json_decref(j);
    free(weak);
    free(reg);
}

Test(publish, the_registry_names_colluders_and_no_innocent)
{
    char *reg = tu_path(dir, "reg.sqlite"), *mix = make_mix4(reg);
    add_innocents(reg);
    json_t *j = detect_with(reg, mix, 0);
    json_t *named = json_object_get(j, "named");
    cr_assert_geq(json_array_size(named), 1, "no colluder named");
    for (size_t i = 0; i < json_array_size(named); i++) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(named, i),
                                                           "recipient_id"));
        cr_assert(id >= 1 && id <= 4, "innocent recipient %lld named", (long long)id);
    }
    json_decref(j);
    free(mix);
    free(reg);
}

/* The same paste enlarged: the change cropped to its centre 80 % and scaled
 * back to the frame, so that the detector reads the mark at 1.25 times the
 * nominal step, as on a crop of the issued picture. A crop may explain why
 * the fingerprint of whole pictures does not align, but it does not vouch
 * for the pictures: at no strength and noise is such a paste accepted
 * (0.9.4 exited 0, "named", where the registry named it and blind decoding
 * failed: the crop rule let the enlarged paste through). Some of the
 * pastes below must be named without decoding blind, or the test shows
 * nothing: since 0.9.18 the small clip's twin grid (accumulator.h) reads
 * the first two blind (its signature verifies; the pictures are still
 * not accepted), and the noisier two are named from the registry alone. */
Test(publish, a_named_message_pasted_enlarged_on_other_pictures_is_not_accepted, .timeout = 900)
{
    static const struct { const char *strength; int noise; } pastes[] = {
        { "0.3", 14 }, { "0.35", 18 }, { "0.35", 26 }, { "0.35", 28 },
    };
    char *reg = tu_path(dir, "regz.sqlite"), *other = tu_path(dir, "otherz.mkv"),
         *forged = tu_path(dir, "forgedz.mkv");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i mandelbrot=size=640x360:rate=24 -t 3 "
                       "-c:v ffv1 -pix_fmt yuv420p '%s'", other), 0);
    int named_only = 0, issued = 0;
    const char *made = "";
    char *weak = NULL, recipient[16];
    for (size_t i = 0; i < sizeof pastes / sizeof pastes[0]; i++) {
        if (strcmp(made, pastes[i].strength)) {   /* one recipient a strength */
            char name[32];
            snprintf(recipient, sizeof recipient, "%d", 70 + issued);
            snprintf(name, sizeof name, "weakz%d.mkv", issued++);
            free(weak);
            weak = tu_path(dir, name);
            const char *argv[] = { WMEMBED, "-k", key, "-i", master, "-o", weak, "--codec",
                                   "ffv1", "--title-id", "9", "--recipient-id", recipient,
                                   "--strength", pastes[i].strength, "--issued",
                                   "2026-12-01T00:00Z", "--no-verify", "--no-fill", "--registry",
                                   reg, "-q", NULL };
            cr_assert_eq(tu_run(argv, NULL, NULL), 0, "wmembed at strength %s",
                         pastes[i].strength);
            made = pastes[i].strength;
        }
        unlink(forged);
        cr_assert_eq(tu_sh(FFMPEG " -i '%s' -i '%s' -i '%s' -filter_complex "
                           "\"[0:v][1:v]blend=c0_expr='A-B+128':c1_expr=128:c2_expr=128,"
                           "crop=512:288,scale=640:360:flags=bicubic[d];"
                           "[2:v][d]blend=c0_expr='A+B-128':c1_expr=A:c2_expr=A,"
                           "noise=c0s=%d:c0f=t\" -c:v ffv1 '%s'",
                           weak, master, other, pastes[i].noise, forged), 0);
        char *o = NULL;
        const char *det[] = { WMDETECT, "-k", dkey, "--registry", reg, "--json", "-q", forged,
                              NULL };
        int rc = tu_run(det, &o, NULL);
        json_t *j = parse(o, "wmdetect --registry --json");
        const char *st = json_string_value(json_object_get(j, "status"));
        cr_log_info("paste at strength %s, noise %d, enlarged 1.25x: exit %d, %s",
                    pastes[i].strength, pastes[i].noise, rc, st ? st : "?");
        cr_assert_neq(rc, 0, "an enlarged paste on other pictures was accepted: %s", o);
        if (json_is_false(json_object_get(j, "signature_valid")) && st &&
            !strncmp(st, "named", 5)) {
            named_only++;
            cr_assert(json_is_false(json_object_get(j, "content_match")), "%s", o);
            cr_assert(rc == 3 || rc == 4, "named, exit %d: %s", rc, o);
        }
        json_decref(j);
        free(o);
    }
    cr_assert_geq(named_only, 1, "no paste was named without decoding blind: the test shows "
                  "nothing about the named path");
    free(weak);
    free(forged);
    free(other);
    free(reg);
}

/* The copy attack against informed detection: the weak mark's exact change
 * (deliverable - master) pasted on other pictures is still named from the
 * registry's messages, but that issuance's recorded content fingerprint
 * does not match them: exit 4, never 0. */
Test(publish, a_named_message_pasted_on_other_pictures_is_not_accepted)
{
    char *reg = tu_path(dir, "reg.sqlite"), *weak = tu_path(dir, "weak.mkv"),
         *other = tu_path(dir, "other.mkv"), *forged = tu_path(dir, "forged.mkv");
    /* strong enough that its pasted change still names it from the registry
     * under the noise (format 7's blind detector reads the deliverable
     * itself at this strength) */
    issue_weak(reg, weak, "0.18");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i mandelbrot=size=640x360:rate=24 -t 3 "
                       "-c:v ffv1 -pix_fmt yuv420p '%s'", other), 0);
    cr_assert_eq(tu_sh(FFMPEG " -i '%s' -i '%s' -i '%s' -filter_complex "
                       "\"[0:v][1:v]blend=c0_expr='A-B+128':c1_expr=128:c2_expr=128[d];"
                       "[2:v][d]blend=c0_expr='A+B-128':c1_expr=A:c2_expr=A,"
                       "noise=c0s=6:c0f=t\" -c:v ffv1 '%s'", weak, master, other, forged), 0);
    const char *blind[] = { WMDETECT, "-k", dkey, "--no-registry", "-q", forged, NULL };
    int brc = tu_run(blind, NULL, NULL);
    cr_assert(brc == 1 || brc == 3, "the blind detector read the forgery (exit %d)", brc);
    json_t *j = detect_with(reg, forged, 4);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "named_unbound");
    cr_assert_str_eq(json_string_value(json_object_get(j, "identified_by")), "registry");
    cr_assert(json_is_false(json_object_get(j, "content_match")));
    json_decref(j);
    /* without the noise the pasted message decodes blind: the issuance's
     * fingerprint in the registry still says these are other pictures */
    char *clean = tu_path(dir, "forged_clean.mkv");
    cr_assert_eq(tu_sh(FFMPEG " -i '%s' -i '%s' -i '%s' -filter_complex "
                       "\"[0:v][1:v]blend=c0_expr='A-B+128':c1_expr=128:c2_expr=128[d];"
                       "[2:v][d]blend=c0_expr='A+B-128':c1_expr=A:c2_expr=A\" "
                       "-c:v ffv1 '%s'", weak, master, other, clean), 0);
    j = detect_with(reg, clean, 4);
    cr_assert(json_is_false(json_object_get(j, "content_match")));
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "unbound");
    json_decref(j);
    free(clean);
    /* the deliverable itself is still identified (read blind, or named from
     * the registry), with its content matching */
    j = detect_with(reg, weak, 0);
    const char *st = json_string_value(json_object_get(j, "status"));
    cr_assert(st && (!strcmp(st, "named") || !strcmp(st, "verified")), "status %s", st);
    cr_assert(json_is_true(json_object_get(j, "content_match")));
    json_decref(j);
    free(forged);
    free(other);
    free(weak);
    free(reg);
}

/*
 * A two-part title (testsrc2 for 4 s, then mandelbrot for 4 s, 640x360,
 * FFV1) in `two`, issued to recipient 5 of title 12 at `strength` (a string)
 * into `deliv`, recorded in `reg`; and in `forged` the change its first 4 s
 * carry (deliverable - master) pasted on the title's own, never-marked
 * pictures of 4-8 s, then `after` (an ffmpeg filter, or "null").
 */
static void move_mark_within_title(const char *reg, const char *two, const char *deliv,
                                   const char *strength, const char *after,
                                   const char *forged)
{
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=size=640x360:rate=24:duration=4 "
                       "-f lavfi -i mandelbrot=size=640x360:rate=24 -filter_complex "
                       "\"[1:v]trim=duration=4,setpts=PTS-STARTPTS[b];"
                       "[0:v]format=yuv420p[a];[b]format=yuv420p[c];[a][c]concat=n=2:v=1\" "
                       "-c:v ffv1 '%s'", two), 0);
    const char *emb[] = { WMEMBED, "-k", key, "-i", two, "-o", deliv, "--codec", "ffv1",
                          "--title-id", "12", "--recipient-id", "5", "--strength", strength,
                          "--issued", "2026-12-01T00:00Z",
                          "--no-verify", "--no-fill", "--registry", reg, "-q", NULL };
    cr_assert_eq(tu_run(emb, NULL, NULL), 0);
    cr_assert_eq(tu_sh(FFMPEG " -t 4 -i '%s' -t 4 -i '%s' -ss 4 -t 4 -i '%s' -filter_complex "
                       "\"[0:v][1:v]blend=c0_expr='A-B+128':c1_expr=128:c2_expr=128[d];"
                       "[2:v]setpts=PTS-STARTPTS[m];"
                       "[m][d]blend=c0_expr='A+B-128':c1_expr=A:c2_expr=A,%s\" "
                       "-c:v ffv1 '%s'", deliv, two, two, after, forged), 0);
}

/* The same move made too weak to decode (a deliverable at strength 0.18,
 * noise added after the paste): the registry names the recipient from the
 * issued messages, under the epochs the mark gives (master 0 s), while the
 * issuance's fingerprint matches the pictures at 4 s. Named, but not
 * vouched for: exit 3, named_unconfirmed (0.7.1 exited 0, "named", with the
 * content matching). The deliverable's own second half, weakened the same
 * way, is named with its content matching where the mark says (exit 0).
 * (A fixed issue time: a 4-s move sits two epochs from the tolerance, and
 * on another issuance's mark the fingerprint aligned a part of the slowly
 * changing mandelbrot 2 s early, within it: named, exit 0.) */
Test(publish, a_weak_mark_moved_within_the_title_is_named_but_not_vouched_for, .timeout = 600)
{
    char *reg = tu_path(dir, "regw.sqlite"), *two = tu_path(dir, "twow.mkv"),
         *deliv = tu_path(dir, "twow_marked.mkv"), *forged = tu_path(dir, "movedw.mkv"),
         *tail = tu_path(dir, "tailw.mkv");
    move_mark_within_title(reg, two, deliv, "0.18", "noise=c0s=8:c0f=t", forged);
    char *o = NULL;
    const char *det[] = { WMDETECT, "-k", dkey, "--registry", reg, "--json", "-q", forged, NULL };
    int rc = tu_run(det, &o, NULL);
    json_t *j = parse(o, "wmdetect --registry --json");
    cr_assert(json_is_false(json_object_get(j, "signature_valid")), "the pasted mark decoded "
              "blind: the test shows nothing about naming (%s)", o);
    cr_assert_str_eq(json_string_value(json_object_get(j, "identified_by")), "registry", "%s", o);
    cr_assert_eq(rc, 3, "exit %d: %s", rc, o);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "named_unconfirmed");
    cr_assert(json_is_false(json_object_get(j, "content_match")));
    json_t *c = json_object_get(j, "content");
    cr_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "match_elsewhere");
    json_decref(j);
    free(o);
    /* the deliverable's own second half, as weak */
    cr_assert_eq(tu_sh(FFMPEG " -ss 4 -i '%s' -vf noise=c0s=8:c0f=t -c:v ffv1 '%s'", deliv,
                       tail), 0);
    const char *det2[] = { WMDETECT, "-k", dkey, "--registry", reg, "--json", "-q", tail, NULL };
    rc = tu_run(det2, &o, NULL);
    j = parse(o, "wmdetect --registry --json");
    cr_assert_eq(rc, 0, "the deliverable's own pictures exit %d: %s", rc, o);
    cr_assert(json_is_true(json_object_get(j, "content_match")), "%s", o);
    json_decref(j);
    free(o);
    free(tail);
    free(forged);
    free(deliv);
    free(two);
    free(reg);
}

/* A still shot: every second of the issued title's fingerprint is the same,
 * so an excerpt from 8 s aligns best at the title's start. The mark says 8 s;
 * the comparison at the mark's place alone matches, so the content vouches
 * (content_match true; 0.7.1 said match_elsewhere, content_match false). */
Test(publish, an_excerpt_of_a_still_shot_matches_where_the_mark_places_it, .timeout = 600)
{
    char *reg = tu_path(dir, "regs.sqlite"), *still = tu_path(dir, "still.mkv"),
         *deliv = tu_path(dir, "still_marked.mkv"), *part = tu_path(dir, "still_part.mkv");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=size=640x360:rate=24:duration=0.05 -vf "
                       "'loop=loop=-1:size=1,trim=duration=14,setpts=N/24/TB,noise=c0s=3:c0f=t' "
                       "-r 24 -c:v ffv1 '%s'", still), 0);
    const char *emb[] = { WMEMBED, "-k", key, "-i", still, "-o", deliv, "--codec", "ffv1",
                          "--title-id", "14", "--recipient-id", "3",
                          "--issued", "2026-12-01T00:00Z", "--no-verify",
                          "--registry", reg, "-q", NULL };
    cr_assert_eq(tu_run(emb, NULL, NULL), 0);
    cr_assert_eq(tu_sh(FFMPEG " -ss 8 -i '%s' -c:v ffv1 '%s'", deliv, part), 0);
    json_t *j = detect_with(reg, part, 0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "verified");
    cr_assert(json_is_true(json_object_get(j, "content_match")));
    json_t *c = json_object_get(j, "content");
    cr_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "match");
    double m0 = json_number_value(json_array_get(json_object_get(c, "master_seconds"), 0));
    cr_assert(m0 >= 6 && m0 <= 10, "matched at master %.1f s, the mark says 8 s", m0);
    json_decref(j);
    free(part);
    free(deliv);
    free(still);
    free(reg);
}

/* The copy attack within one title: the change a deliverable's first 4 s
 * carry (deliverable - master) pasted on the master's own, never-marked
 * pictures of 4-8 s. Blind, the signature verifies and the tag contradicts
 * the pictures; the issuance's fingerprint matches them, but at 4 s while
 * the mark places the clip at 0 s: it must not vouch for the mark (exit 4,
 * content_match false, verdict match_elsewhere). The deliverable's own 4-8
 * s still verify with the fingerprint matching where the mark says. */
Test(publish, a_mark_moved_within_the_title_is_not_vouched_for_by_its_fingerprint,
     .timeout = 600)
{
    char *reg = tu_path(dir, "reg.sqlite"), *two = tu_path(dir, "two.mkv"),
         *deliv = tu_path(dir, "two_marked.mkv"), *forged = tu_path(dir, "moved.mkv"),
         *tail = tu_path(dir, "tail.mkv");
    move_mark_within_title(reg, two, deliv, "1", "null", forged);
    json_t *j = detect_with(reg, forged, 4);
    cr_assert(json_is_true(json_object_get(j, "signature_valid")), "the pasted mark did not "
              "verify: the test shows nothing");
    cr_assert(json_is_false(json_object_get(j, "content_match")));
    json_t *c = json_object_get(j, "content");
    cr_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "match_elsewhere");
    cr_assert_str_eq(json_string_value(json_object_get(c, "fingerprint_from")), "registry");
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "unbound");
    json_decref(j);
    /* the deliverable's own second half: the mark and the fingerprint agree */
    cr_assert_eq(tu_sh(FFMPEG " -ss 4 -i '%s' -c:v ffv1 '%s'", deliv, tail), 0);
    char *o = NULL;
    const char *det[] = { WMDETECT, "-k", dkey, "--registry", reg, "--json", "-q", tail, NULL };
    int rc = tu_run(det, &o, NULL);
    j = parse(o, "wmdetect --registry --json");
    cr_assert(rc == 0 || rc == 3, "the deliverable's own pictures exit %d: %s", rc, o);
    cr_assert(json_is_true(json_object_get(j, "content_match")), "%s", o);
    json_decref(j);
    free(o);
    free(tail);
    free(forged);
    free(deliv);
    free(two);
    free(reg);
}

/* Legitimate copies that the recorded content fingerprint of whole
 * pictures cannot align (the bundled static sample, re-encoded): an
 * off-centre crop of half the picture's area, a square crop of the sides
 * and the left half. The half-area crop still holds the middle 60 % of the
 * picture the hash is made of, and since 0.9.6 the issuance's fingerprint
 * is compared there, where the mark's geometry places the picture
 * (place.h): vouched for, exit 0. The square crop cuts into that middle:
 * the mark verifies and its content tag, read under the geometry found,
 * binds these pictures, and the clip is of another shape than the issued
 * picture: unconfirmed (exit 3), never "transplanted" (exit 4). A re-stamp
 * onto other video of the issued shape still exits 4 (test_cli). */
Test(publish, large_crops_are_vouched_at_their_place_or_unconfirmed_never_transplanted,
     .timeout = 600)
{
    char *reg = tu_path(dir, "reg_crop.sqlite"), *deliv = tu_path(dir, "crop_deliv.mkv"),
         *crop = tu_path(dir, "crop.mp4"), *sample = tu_path(FM_SOURCE_DIR, "samples/sample.mkv");
    const char *argv[] = { WMEMBED, "-k", key, "-i", sample, "-o", deliv, "--codec", "ffv1",
                           "--title-id", "3", "--recipient-id", "5", "--no-verify",
                           "--registry", reg, "-q", NULL };
    cr_assert_eq(tu_run(argv, NULL, NULL), 0);
    cr_assert_eq(tu_sh(FFMPEG " -i '%s' -vf crop=542:406:137:71:exact=1 -c:v libx264 -crf 23 "
                       "-preset medium -pix_fmt yuv420p -an '%s'", deliv, crop), 0);
    json_t *j = detect_with(reg, crop, 0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "verified");
    cr_assert(json_is_true(json_object_get(j, "content_match")));
    json_t *place = json_object_get(json_object_get(j, "content"), "picture_place");
    cr_assert(json_is_object(place), "not matched at the picture's place");
    cr_assert(json_is_false(json_object_get(place, "within_frame")));
    cr_assert_float_eq(json_number_value(json_object_get(place, "x")), -137, 4);
    cr_assert_float_eq(json_number_value(json_object_get(place, "y")), -71, 4);
    cr_assert_eq(json_integer_value(json_object_get(j, "recipient_id")), 5);
    json_decref(j);
    /* the left 576 columns, full height: scale 1, another shape */
    cr_assert_eq(tu_sh(FFMPEG " -i '%s' -vf crop=576:576:0:0:exact=1 -c:v libx264 -crf 23 "
                       "-preset medium -pix_fmt yuv420p -an '%s'", deliv, crop), 0);
    j = detect_with(reg, crop, 3);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")),
                     "verified_content_unconfirmed");
    cr_assert_str_eq(json_string_value(json_object_get(j, "binding_verdict")), "bound");
    /* the case this test is about: no fingerprint matched */
    cr_assert(json_is_false(json_object_get(j, "content_match")),
              "the fingerprint aligned the square crop: the test no longer covers the case");
    cr_assert(json_is_null(json_object_get(json_object_get(j, "content"), "picture_place")));
    json_decref(j);
    /* the left half: most of the tagged region (around the picture's
     * centre) is cut away, so the tag can neither bind nor contradict these
     * pictures: inconclusive, not "transplanted" */
    cr_assert_eq(tu_sh(FFMPEG " -i '%s' -vf crop=384:576:0:0:exact=1 -c:v libx264 -crf 23 "
                       "-preset medium -pix_fmt yuv420p -an '%s'", deliv, crop), 0);
    j = detect_with(reg, crop, 3);
    cr_assert_str_eq(json_string_value(json_object_get(j, "binding_verdict")), "inconclusive");
    cr_assert(json_is_true(json_object_get(j, "signature_valid")));
    json_decref(j);
    free(sample);
    free(crop);
    free(deliv);
    free(reg);
}

/*
 * A verified mark moved a few seconds within a moving title: the change the
 * first 4 s of a 10-s testsrc2 deliverable carry (deliverable - master),
 * pasted on the title's own, never-marked pictures 3 s and 4 s later. The
 * payload verifies, and the fingerprint's best alignment over the title
 * puts the clip at 3 (4) s while the mark says 0 s. 0.7.2 then compared the
 * clip once more within the tolerance of the mark's place and took a chance
 * alignment there (a few seconds of a 4-s clip, at about half the evidence
 * of the clip's own place) as vouching: content_match true. Now such a
 * match vouches only with 3/4 of the best alignment's evidence: the content
 * verdict is match_elsewhere. (A fixed issue time: the same mark.)
 */
Test(publish, a_verified_mark_moved_three_or_four_seconds_is_not_vouched_for, .timeout = 600)
{
    char *reg = tu_path(dir, "regm.sqlite"), *title = tu_path(dir, "ts10.mkv"),
         *deliv = tu_path(dir, "ts10_marked.mkv"), *forged = tu_path(dir, "ts10_moved.mkv");
    cr_assert_eq(tu_sh(FFMPEG " -f lavfi -i testsrc2=size=640x360:rate=24:duration=10 "
                       "-pix_fmt yuv420p -c:v ffv1 '%s'", title), 0);
    const char *emb[] = { WMEMBED, "-k", key, "-i", title, "-o", deliv, "--codec", "ffv1",
                          "--title-id", "14", "--recipient-id", "7",
                          "--issued", "2026-12-01T00:00Z",
                          "--no-verify", "--no-fill", "--registry", reg, "-q", NULL };
    cr_assert_eq(tu_run(emb, NULL, NULL), 0);
    static const char *moves[] = { "3", "4" };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        cr_assert_eq(tu_sh(FFMPEG " -t 4 -i '%s' -t 4 -i '%s' -ss %s -t 4 -i '%s' "
                           "-filter_complex \"[0:v][1:v]blend=c0_expr='A-B+128':c1_expr=128:"
                           "c2_expr=128[d];[2:v]setpts=PTS-STARTPTS[m];"
                           "[m][d]blend=c0_expr='A+B-128':c1_expr=A:c2_expr=A\" "
                           "-c:v ffv1 '%s'", deliv, title, moves[i], title, forged), 0);
        char *o = NULL;
        const char *det[] = { WMDETECT, "-k", dkey, "--registry", reg, "--json", "-q", forged,
                              NULL };
        tu_run(det, &o, NULL);
        json_t *j = parse(o, "wmdetect --registry --json");
        cr_assert(json_is_true(json_object_get(j, "signature_valid")), "moved %s s: %s",
                  moves[i], o);
        cr_assert(json_is_false(json_object_get(j, "content_match")), "moved %s s: %s",
                  moves[i], o);
        json_t *c = json_object_get(j, "content");
        cr_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "match_elsewhere",
                         "moved %s s: %s", moves[i], o);
        json_decref(j);
        free(o);
    }
    free(forged);
    free(deliv);
    free(title);
    free(reg);
}
