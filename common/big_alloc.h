/*
 * big_alloc.h - large zeroed buffers mapped with their pages up front.
 *
 * A buffer of tens of megabytes touched page by page after malloc takes a
 * page fault every 4 KB; on a virtual machine those faults cost more than
 * the work that fills the buffer (the detector's 29 MB of per-key pilot
 * tables, an accumulator window's 7 MB of fine planes at 1080p). One
 * anonymous mapping with MAP_POPULATE asks the kernel for every page in
 * one call instead. The memory comes zeroed.
 */
#ifndef FM_BIG_ALLOC_H
#define FM_BIG_ALLOC_H

#include <stddef.h>

/* bytes > 0 of zeroed memory, page-aligned; NULL when out of memory. */
void *fm_big_alloc(size_t bytes);
/* Frees what fm_big_alloc(bytes) gave (p may be NULL); with wipe, zeroes it
 * first (secrets). */
void fm_big_free(void *p, size_t bytes, int wipe);

#endif
