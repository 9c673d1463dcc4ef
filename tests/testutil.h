/*
 * testutil.h - small helpers shared by the Criterion tests.
 */
#ifndef FM_TESTUTIL_H
#define FM_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Fresh directory under $TMPDIR (or /tmp); malloc'd path, aborts on failure. */
char *tu_mkdtemp(void);
/* Removes dir and everything in it, then frees the string. NULL is a no-op. */
void tu_rmtree(char *dir);
/* dir + "/" + name, malloc'd; aborts on failure. */
char *tu_path(const char *dir, const char *name);
/* Whole file into a malloc'd, NUL-terminated buffer; 0 or -1. */
int tu_read_file(const char *path, char **data, size_t *len);
/* Creates or truncates path with exactly this mode and writes data; 0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len, mode_t mode);

#endif
