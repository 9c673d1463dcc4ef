/*
 * passphrase.c - passphrases from a file, the environment or the terminal
 * (see passphrase.h). Plain read()/write(), so that no stdio buffer keeps a
 * copy; every local buffer is wiped.
 */
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

/* Stores s[0..n) in buf; the length or FM_EINVAL if it does not fit or is empty. */
static int take(const char *what, const char *s, size_t n, char *buf, size_t size, FmError *err)
{
    if (n == 0)
        return fm_error_set(err, FM_EINVAL, "%s is empty", what);
    if (n > FM_PASSPHRASE_MAX || n >= size)
        return fm_error_set(err, FM_EINVAL, "%s is longer than %d bytes", what,
                            FM_PASSPHRASE_MAX);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return (int)n;
}

/* The first line of a regular file (mode 0600 or narrower) or a pipe. */
static int from_file(const char *path, char *buf, size_t size, FmError *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fm_error_set(err, errno == ENOENT ? FM_ENOTFOUND : FM_EIO,
                            "cannot open passphrase file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int ret = fm_error_set(err, FM_EIO, "cannot read passphrase file '%s': %s", path,
                               strerror(errno));
        close(fd);
        return ret;
    }
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        close(fd);
        return fm_error_set(err, FM_EFORMAT, "passphrase file '%s' is not a file or a pipe",
                            path);
    }
    mode_t perm = st.st_mode & 07777;
    if (S_ISREG(st.st_mode) && (perm & 077)) {
        close(fd);
        return fm_error_set(err, FM_EPERM,
                            "passphrase file '%s' is %s by others (mode %04o); run chmod 600",
                            path, (perm & 044) ? "readable" : (perm & 022) ? "writable"
                                                                          : "accessible",
                            (unsigned)perm);
    }
    char text[FM_PASSPHRASE_MAX + 2];
    size_t n = 0;
    int ret = 0;
    /* up to the first newline; a longer first line is an error */
    while (n < sizeof(text)) {
        ssize_t r = read(fd, text + n, sizeof(text) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = fm_error_set(err, FM_EIO, "cannot read passphrase file '%s': %s", path,
                               strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (memchr(text + n, '\n', (size_t)r)) {
            n += (size_t)r;
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    if (ret == 0) {
        char *nl = memchr(text, '\n', n);
        size_t len = nl ? (size_t)(nl - text) : n;
        if (!nl && n == sizeof(text)) {
            ret = fm_error_set(err, FM_EINVAL, "passphrase in '%s' is longer than %d bytes",
                               path, FM_PASSPHRASE_MAX);
        } else {
            if (len > 0 && text[len - 1] == '\r')
                len--;
            char what[64 + 256];
            snprintf(what, sizeof(what), "the passphrase in '%.256s'", path);
            ret = take(what, text, len, buf, size, err);
        }
    }
    sodium_memzero(text, sizeof(text));
    return ret;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/* Asks on the terminal, without echo. Returns the length (may be 0) or FM_E*. */
static int ask(const char *prompt, char *buf, size_t size, FmError *err)
{
    int out = open("/dev/tty", O_WRONLY | O_CLOEXEC | O_NOCTTY);
    int out_fd = out >= 0 ? out : STDERR_FILENO;
    struct termios old, quiet;
    int have_term = tcgetattr(STDIN_FILENO, &old) == 0;

    /* Ctrl-C while echo is off: restore the terminal, then die of the signal. */
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
    struct sigaction sa, saved[sizeof(sigs) / sizeof(sigs[0])];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;   /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    got_signal = 0;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, &saved[i]);

    if (have_term) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    (void)!write(out_fd, prompt, strlen(prompt));

    char line[FM_PASSPHRASE_MAX + 2];
    size_t n = 0;
    int ret = 0, too_long = 0;
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR && !got_signal)
            continue;
        if (r < 0) {
            ret = got_signal ? fm_error_set(err, FM_EIO, "interrupted")
                             : fm_error_set(err, FM_EIO, "cannot read the passphrase: %s",
                                            strerror(errno));
            break;
        }
        if (r == 0 || c == '\n')
            break;
        if (n < sizeof(line))
            line[n++] = c;
        else
            too_long = 1;
        c = 0;
    }
    if (have_term)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    (void)!write(out_fd, "\n", 1);
    if (out >= 0)
        close(out);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &saved[i], NULL);
    if (got_signal) {
        sodium_memzero(line, sizeof(line));
        raise(got_signal);   /* the caller's own disposition */
        return fm_error_set(err, FM_EIO, "interrupted");
    }
    if (ret == 0) {
        if (too_long || n > FM_PASSPHRASE_MAX || n >= size)
            ret = fm_error_set(err, FM_EINVAL, "the passphrase is longer than %d bytes",
                               FM_PASSPHRASE_MAX);
        else {
            memcpy(buf, line, n);
            buf[n] = '\0';
            ret = (int)n;
        }
    }
    sodium_memzero(line, sizeof(line));
    return ret;
}

/* From the file or the environment; 0 if neither is given. */
static int from_automation(const FmPassSource *src, char *buf, size_t size, FmError *err)
{
    if (src && src->file)
        return from_file(src->file, buf, size, err);
    const char *env = getenv(FM_PASSPHRASE_ENV);
    if (env)
        return take(FM_PASSPHRASE_ENV, env, strlen(env), buf, size, err);
    return 0;
}

int fm_pass_get(void *ctx, const char *path, const FmKeyInfo *info, char *buf, size_t size,
                FmError *err)
{
    int n = from_automation(ctx, buf, size, err);
    if (n != 0)
        return n;
    if (!isatty(STDIN_FILENO))
        return fm_error_set(err, FM_EPERM,
                            "'%s' is protected by a passphrase and there is no terminal to ask "
                            "on; give --passphrase-file FILE or set " FM_PASSPHRASE_ENV, path);
    char prompt[FM_LABEL_MAX + 512];
    const char *base = strrchr(path, '/');
    snprintf(prompt, sizeof(prompt), "Passphrase for %.200s (key %s%s%.255s%s): ",
             base ? base + 1 : path, info ? info->fingerprint : "?",
             info && info->label[0] ? ", \"" : "", info ? info->label : "",
             info && info->label[0] ? "\"" : "");
    n = ask(prompt, buf, size, err);
    if (n == 0)
        return fm_error_set(err, FM_EINVAL, "empty passphrase");
    return n;
}

int fm_pass_new(const FmPassSource *src, char *buf, size_t size, FmError *err)
{
    int n = from_automation(src, buf, size, err);
    if (n != 0)
        return n;
    if (!isatty(STDIN_FILENO))
        return fm_error_set(err, FM_ENOTFOUND,
                            "no terminal to ask for a passphrase; give --passphrase-file FILE, "
                            "set " FM_PASSPHRASE_ENV " or use --no-passphrase");
    n = ask("Passphrase for the new secret key: ", buf, size, err);
    if (n < 0)
        return n;
    if (n == 0)
        return fm_error_set(err, FM_EINVAL,
                            "empty passphrase; use --no-passphrase for a key without one");
    char *again = sodium_malloc(size);
    if (!again)
        return fm_error_set(err, FM_ENOMEM, "out of secure memory");
    int m = ask("The same passphrase again: ", again, size, err);
    int ret = n;
    if (m < 0)
        ret = m;
    else if (m != n || sodium_memcmp(buf, again, (size_t)n) != 0)
        ret = fm_error_set(err, FM_EINVAL, "the two passphrases differ");
    sodium_free(again);
    if (ret < 0)
        sodium_memzero(buf, size);
    return ret;
}
