#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The base name is cut so that ".BASE.partXXXXXX" stays within NAME_MAX. */
#define BASE_MAX 200
#define SUFFIX ".partXXXXXX"

static void split_path(const char *path, int *dirlen, const char **base)
{
    const char *slash = strrchr(path, '/');
    *dirlen = slash ? (int)(slash - path) + 1 : 0;
    *base = path + *dirlen;
}

int fm_temp_open(FmTempFile *t, const char *final_path, mode_t mode, int honour_umask,
                 FmError *err)
{
    int dirlen;
    const char *base;
    t->path = NULL;
    t->fd = -1;
    t->published = 0;
    split_path(final_path, &dirlen, &base);
    if (!*base)
        return fm_error_set(err, FM_EINVAL, "'%s' names a directory, not a file", final_path);
    size_t len = (size_t)dirlen + 1 + BASE_MAX + sizeof(SUFFIX);
    if (!(t->path = malloc(len)))
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    snprintf(t->path, len, "%.*s.%.*s" SUFFIX, dirlen, final_path, BASE_MAX, base);
    int fd = mkstemp(t->path);
    if (fd < 0) {
        int e = errno;
        free(t->path);
        t->path = NULL;
        return fm_error_set(err, FM_EIO, "cannot create '%s': %s", final_path, strerror(e));
    }
    if (honour_umask) {
        mode_t mask = umask(0);
        umask(mask);
        mode &= ~mask;
    }
    /* mkstemp makes 0600; the lock says the file is in use */
    if (fchmod(fd, mode) != 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        unlink(t->path);
        free(t->path);
        t->path = NULL;
        return fm_error_set(err, FM_EIO, "cannot create '%s': %s", final_path, strerror(e));
    }
    t->fd = fd;
    return 0;
}

int fm_temp_write(FmTempFile *t, const void *buf, size_t len, FmError *err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(t->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fm_error_set(err, FM_EIO, "cannot write '%s': %s", t->path,
                                n < 0 ? strerror(errno) : "no space written");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fm_temp_sync(FmTempFile *t, FmError *err)
{
    if (fsync(t->fd) != 0)
        return fm_error_set(err, FM_EIO, "cannot write '%s': %s", t->path, strerror(errno));
    return 0;
}

int fm_temp_publish(FmTempFile *t, const char *final_path, FmError *err)
{
    if (!t->path || t->published)
        return fm_error_set(err, FM_EINVAL, "fm_temp_publish: nothing to publish");
    if (rename(t->path, final_path) != 0)
        return fm_error_set(err, FM_EIO, "cannot rename into '%s': %s", final_path,
                            strerror(errno));
    t->published = 1;
    return 0;
}

static int exists_error(const char *final_path, FmError *err)
{
    return fm_error_set(err, FM_EPERM, "'%s' exists; use --force to overwrite", final_path);
}

int fm_temp_publish_new(FmTempFile *t, const char *final_path, FmError *err)
{
    if (!t->path || t->published)
        return fm_error_set(err, FM_EINVAL, "fm_temp_publish_new: nothing to publish");
    /* link() fails if final_path appeared meanwhile: no race with any check */
    if (link(t->path, final_path) == 0) {
        unlink(t->path);    /* the file lives on under final_path; still ours, locked */
        t->published = 1;
        return 0;
    }
    if (errno == EEXIST)
        return exists_error(final_path, err);
    if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS ||
        errno == EMLINK) {
        /* no hard links on this file system: check again, then rename */
        struct stat st;
        if (lstat(final_path, &st) == 0)
            return exists_error(final_path, err);
        if (rename(t->path, final_path) == 0) {
            t->published = 1;
            return 0;
        }
    }
    return fm_error_set(err, FM_EIO, "cannot create '%s': %s", final_path, strerror(errno));
}

int fm_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
                         int honour_umask, int force, FmError *err)
{
    struct stat st;
    if (!force && lstat(path, &st) == 0)
        return exists_error(path, err);
    FmTempFile t;
    int ret = fm_temp_open(&t, path, mode, honour_umask, err);
    if (ret < 0)
        return ret;
    if ((ret = fm_temp_write(&t, buf, len, err)) == 0 && (ret = fm_temp_sync(&t, err)) == 0)
        ret = force ? fm_temp_publish(&t, path, err) : fm_temp_publish_new(&t, path, err);
    fm_temp_discard(&t);
    return ret;
}

void fm_temp_discard(FmTempFile *t)
{
    if (t->path && !t->published)
        unlink(t->path);
    if (t->fd >= 0)
        close(t->fd);   /* after the unlink: nobody may take it for stale meanwhile */
    free(t->path);
    t->path = NULL;
    t->fd = -1;
}

/* ".BASE.part" followed by exactly six characters of mkstemp's alphabet */
static int is_our_temp(const char *name, const char *base)
{
    size_t bl = strlen(base);
    if (bl > BASE_MAX)
        bl = BASE_MAX;
    if (name[0] != '.' || strncmp(name + 1, base, bl) != 0 || strncmp(name + 1 + bl, ".part", 5))
        return 0;
    const char *x = name + 1 + bl + 5;
    if (strlen(x) != 6)
        return 0;
    for (; *x; x++)
        if (!((*x >= 'a' && *x <= 'z') || (*x >= 'A' && *x <= 'Z') || (*x >= '0' && *x <= '9')))
            return 0;
    return 1;
}

int fm_remove_stale_temps(const char *final_path, FmError *err)
{
    int dirlen, removed = 0;
    const char *base;
    split_path(final_path, &dirlen, &base);
    if (!*base)
        return 0;
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%.*s", dirlen ? dirlen : 1, dirlen ? final_path : ".")
        >= (int)sizeof(dir))
        return fm_error_set(err, FM_EINVAL, "path too long: '%s'", final_path);
    DIR *d = opendir(dir);
    if (!d)
        return 0;   /* nothing of ours can be there; the writer reports the real error */
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_our_temp(e->d_name, base))
            continue;
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st;
        /* a regular file of ours that no live writer holds */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dfd, e->d_name, 0) == 0)
            removed++;
        close(fd);
    }
    closedir(d);
    return removed;
}
