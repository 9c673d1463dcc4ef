/*
 * atomic_file.h - outputs that appear whole under their final name or not
 * at all.
 *
 * A temporary ".NAME.partXXXXXX" is made beside the final NAME (same
 * directory, so the rename is atomic; hidden, so nobody takes it for the
 * finished file) and held open with an exclusive flock() for as long as its
 * writer lives. A run that was killed (SIGKILL, power loss) leaves its
 * temporary behind unlocked: fm_remove_stale_temps() removes exactly those,
 * never the temporary of a run that is still writing.
 */
#ifndef FM_ATOMIC_FILE_H
#define FM_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "fm_error.h"

typedef struct FmTempFile {
    char *path;     /* the temporary's name; NULL when none is open */
    int fd;         /* open, locked; -1 when none */
    int published;
} FmTempFile;

/* Creates and locks the temporary for final_path with the given mode
 * (further restricted by the umask when honour_umask is set). */
int fm_temp_open(FmTempFile *t, const char *final_path, mode_t mode, int honour_umask,
                 FmError *err);
/* Writes all of buf (retries short writes and EINTR). */
int fm_temp_write(FmTempFile *t, const void *buf, size_t len, FmError *err);
/* fsync()s the data: call before fm_temp_publish(). */
int fm_temp_sync(FmTempFile *t, FmError *err);
/* Renames the temporary into final_path. */
int fm_temp_publish(FmTempFile *t, const char *final_path, FmError *err);
/* Puts the temporary in place as final_path only if no file has that name:
 * link(2), which fails if one appeared meanwhile (FM_EPERM "'NAME' exists;
 * use --force to overwrite"), then unlink(2) of the temporary's name. On a
 * file system without hard links: checks for final_path, then renames. */
int fm_temp_publish_new(FmTempFile *t, const char *final_path, FmError *err);
/* Removes the temporary unless it was published, and closes it. Idempotent. */
void fm_temp_discard(FmTempFile *t);

/* A whole small file in one go: temporary (mode, as fm_temp_open), write,
 * fsync, then fm_temp_publish (force) or fm_temp_publish_new; an existing
 * path without force is refused before anything is written. */
int fm_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
                         int honour_umask, int force, FmError *err);

/* Removes temporaries of final_path's naming that no live writer holds.
 * Returns how many were removed (>= 0) or a negative FmError code. */
int fm_remove_stale_temps(const char *final_path, FmError *err);

#endif
