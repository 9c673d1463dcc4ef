/*
 * test_bad_media.c - wmembed and wmdetect (the built binaries) over the
 * bad-media corpus of tests/bad_media/make.sh: truncated, garbage, empty,
 * zero-frame, huge or absurd declared sizes, odd sizes, VFR, a resolution
 * change, audio only, a still picture, a FIFO.
 *
 * For every file and both tools: no crash (no death by signal), no hang
 * (killed after CASE_SECONDS = fail), the exit status listed in
 * tests/bad_media/expect.txt, one non-empty line on stderr when refused,
 * no partial output left (the output directory holds the deliverable and
 * its receipt after a success, nothing otherwise, no ".NAME.part*"), and
 * the input unchanged (SHA-256 before and after, nothing added beside it).
 * The cases run four at a time, each in its own process.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "testutil.h"

/* the tools built with the sanitizers (FILMMARK_SANITIZE) run ~8x slower */
#ifdef __SANITIZE_ADDRESS__
#define CASE_SECONDS 120
#else
#define CASE_SECONDS 20
#endif
#define PARALLEL 4
#define MAX_CASES 64

typedef struct Case {
    char name[64];
    int want_embed, want_detect;
} Case;

static char *corpus, *work, *key_prefix;

static void setup(void)
{
    corpus = tu_mkdtemp();
    work = tu_mkdtemp();
    cr_assert_eq(tu_sh("bash '%s/tests/bad_media/make.sh' '%s'", FM_SOURCE_DIR, corpus), 0,
                 "tests/bad_media/make.sh failed");
    key_prefix = tu_path(work, "k");
    const char *kg[] = { FM_BUILD_DIR "/wmkeygen", "-o", key_prefix, "-q", NULL };
    cr_assert_eq(tu_run(kg, NULL, NULL), 0);
}

static void teardown(void)
{
    tu_rmtree(corpus);
    tu_rmtree(work);
    free(key_prefix);
}

TestSuite(bad_media, .init = setup, .fini = teardown, .timeout = 600);

static int load_cases(Case *c, int max)
{
    FILE *f = fopen(FM_SOURCE_DIR "/tests/bad_media/expect.txt", "r");
    cr_assert_not_null(f);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        cr_assert_lt(n, max);
        cr_assert_eq(sscanf(line, "%63s %d %d", c[n].name, &c[n].want_embed, &c[n].want_detect),
                     3, "bad line in expect.txt: %s", line);
        n++;
    }
    fclose(f);
    return n;
}

static int sha256_file(const char *path, unsigned char out[32])
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    close(fd);
    crypto_hash_sha256_final(&st, out);
    return n < 0 ? -1 : 0;
}

/* Forks a writer that feeds src into the FIFO path (blocks until a reader
 * opens it); the caller kills it when done. */
static pid_t feed_fifo(const char *fifo, const char *src)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        int out = open(fifo, O_WRONLY), in = open(src, O_RDONLY);
        if (out < 0 || in < 0)
            _exit(1);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(0);
        _exit(0);
    }
    return pid;
}

/* Runs argv with stdout to /dev/null and stderr to err_path; kills it after
 * CASE_SECONDS. Returns the exit status, 128 + signal, or -1 on timeout. */
static int run_bounded(const char *const argv[], const char *err_path, double *seconds)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0)
        return -2;
    if (pid == 0) {
        setpgid(0, 0);
        int dn = open("/dev/null", O_RDWR), ef = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(dn, 0);
        dup2(dn, 1);
        dup2(ef, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        *seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (r == pid)
            break;
        if (*seconds > CASE_SECONDS) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(20000);
    }
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* Names in dir, space-separated, sorted as readdir gives them. */
static void list_dir(const char *dir, char *out, size_t len)
{
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n ? " " : "", e->d_name);
    }
    closedir(d);
}

/* Checks one tool run; a failure is written to res (one line) and returns 1. */
static int check_run(const char *tool, const Case *c, int rc, int want, double secs,
                     const char *err_path, const char *outdir, char *res, size_t len)
{
    if (rc == -1)
        return snprintf(res, len, "%s %s: still running after %d s (killed)", tool, c->name,
                        CASE_SECONDS), 1;
    if (rc > 128)
        return snprintf(res, len, "%s %s: killed by signal %d", tool, c->name, rc - 128), 1;
    char *text = NULL;
    size_t n = 0;
    tu_read_file(err_path, &text, &n);
    int bad = 0;
    if (rc != want) {
        snprintf(res, len, "%s %s: exit %d, wanted %d (%.1f s; stderr: %.200s)", tool, c->name,
                 rc, want, secs, text ? text : "");
        bad = 1;
    } else if (rc == 2) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s: ", tool);
        if (!text || tu_count_lines(text) != 1 || strncmp(text, prefix, strlen(prefix)) ||
            strlen(text) <= strlen(prefix) + 1) {
            snprintf(res, len, "%s %s: refused without exactly one '%s...' line: '%.200s'",
                     tool, c->name, prefix, text ? text : "");
            bad = 1;
        }
    }
    free(text);
    if (bad || !outdir)
        return bad;
    char names[1024];
    list_dir(outdir, names, sizeof names);
    const char *want_names = rc == 0 ? "o.mkv o.mkv.receipt.json" : "";
    /* readdir order is arbitrary: compare as sets of the two names */
    int ok = rc == 0 ? (strstr(names, "o.mkv.receipt.json") && !strstr(names, "part") &&
                        tu_dir_entries(outdir) == 2)
                     : tu_dir_entries(outdir) == 0;
    if (!ok)
        return snprintf(res, len, "%s %s: exit %d left '%s' (wanted '%s')", tool, c->name, rc,
                        names, want_names), 1;
    return 0;
}

/* One case, in its own process: writes "" (pass) or a reason to res. */
static void run_case(const Case *c, char *res, size_t len)
{
    res[0] = 0;
    int is_fifo = strcmp(c->name, "fifo.mkv") == 0;
    /* the FIFO lives apart, so the other cases see the corpus unchanged */
    char *in = tu_path(is_fifo ? work : corpus, c->name);
    char *src = tu_path(corpus, "healthy_master.mkv");
    if (is_fifo && mkfifo(in, 0600) != 0) {
        snprintf(res, len, "%s: mkfifo failed", c->name);
        return;
    }
    char key[512], dkey[512], outdir[512], outp[600], errp[600];
    snprintf(key, sizeof key, "%s.key", key_prefix);
    snprintf(dkey, sizeof dkey, "%s.dkey", key_prefix);
    snprintf(outdir, sizeof outdir, "%s/out_%s", work, c->name);
    snprintf(outp, sizeof outp, "%s/o.mkv", outdir);
    snprintf(errp, sizeof errp, "%s/err_%s", work, c->name);
    mkdir(outdir, 0700);

    unsigned char h0[32], h1[32];
    int hashed = !is_fifo && sha256_file(in, h0) == 0;
    int before = tu_dir_entries(corpus);

    pid_t feeder = is_fifo ? feed_fifo(in, src) : -1;
    const char *emb[] = { FM_BUILD_DIR "/wmembed", "-k", key, "-i", in, "-o", outp,
                          "--codec", "ffv1", "--title-id", "7", "--recipient-id", "9", "-q",
                          NULL };
    double secs = 0;
    int rc = run_bounded(emb, errp, &secs);
    if (feeder > 0) {
        kill(feeder, SIGKILL);
        waitpid(feeder, NULL, 0);
    }
    if (check_run("wmembed", c, rc, c->want_embed, secs, errp, outdir, res, len))
        goto end;

    feeder = is_fifo ? feed_fifo(in, src) : -1;
    const char *det[] = { FM_BUILD_DIR "/wmdetect", "-k", dkey, in, NULL };
    rc = run_bounded(det, errp, &secs);
    if (feeder > 0) {
        kill(feeder, SIGKILL);
        waitpid(feeder, NULL, 0);
    }
    if (check_run("wmdetect", c, rc, c->want_detect, secs, errp, NULL, res, len))
        goto end;

    if (hashed && (sha256_file(in, h1) != 0 || memcmp(h0, h1, 32) != 0))
        snprintf(res, len, "%s: the input was modified", c->name);
    else if (tu_dir_entries(corpus) != before)
        snprintf(res, len, "%s: files appeared beside the input", c->name);
end:
    free(in);
    free(src);
}

Test(bad_media, both_tools_refuse_or_succeed_cleanly_on_every_file)
{
    static Case cases[MAX_CASES];
    int n = load_cases(cases, MAX_CASES);
    cr_assert_gt(n, 20);
    /* every file the script made is listed, and every listed file exists */
    for (int i = 0; i < n; i++) {
        char *p = tu_path(corpus, cases[i].name);
        cr_expect(strcmp(cases[i].name, "fifo.mkv") == 0 || access(p, F_OK) == 0,
                  "%s is listed but not made", cases[i].name);
        free(p);
    }
    cr_expect_eq(tu_dir_entries(corpus), n - 1, "make.sh and expect.txt disagree");

    /* the cases run PARALLEL at a time; each reports through a pipe */
    int fds[MAX_CASES];
    pid_t pids[MAX_CASES];
    int started = 0, done = 0, running = 0, failures = 0;
    while (done < n) {
        while (running < PARALLEL && started < n) {
            int p[2];
            cr_assert_eq(pipe(p), 0);
            pid_t pid = fork();
            cr_assert_geq(pid, 0);
            if (pid == 0) {
                close(p[0]);
                char res[1024];
                run_case(&cases[started], res, sizeof res);
                ssize_t w = write(p[1], res, strlen(res));
                (void)w;
                _exit(0);
            }
            close(p[1]);
            fds[started] = p[0];
            pids[started] = pid;
            started++;
            running++;
        }
        int st;
        pid_t pid = wait(&st);
        cr_assert_gt(pid, 0, "wait: %s", strerror(errno));
        for (int i = 0; i < started; i++) {
            if (pids[i] != pid)
                continue;
            char res[1024];
            ssize_t r = read(fds[i], res, sizeof res - 1);
            res[r > 0 ? r : 0] = 0;
            close(fds[i]);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                snprintf(res, sizeof res, "%.64s: the case runner died", cases[i].name);
            if (res[0]) {
                cr_expect(0, "%s", res);
                failures++;
            } else {
                cr_log_info("%s: ok", cases[i].name);
            }
            running--;
            done++;
        }
    }
    cr_assert_eq(failures, 0, "%d of %d bad-media cases failed (see above)", failures, n);
}
