/*
 * scan.h - wmdetect --scan: many images and clips, every key, all cores.
 *
 * The files of a directory tree (or the paths listed on stdin) are read by
 * a pool of threads: a still picture (one frame) with the still detector
 * (still.h), a clip with fm_detect. Each hit is printed as it is found (one
 * JSON line with --json), each file that cannot be read as one line without
 * stopping, and at the end a summary per key and title: how many files
 * carried the mark, the signatures read (alone, or jointly from the summed
 * evidence of stills whose own signature did not verify) and the combined
 * false-alarm probability of the title's files (scan_stats.h).
 */
#ifndef FM_SCAN_H
#define FM_SCAN_H

#include "keys.h"

typedef struct FmScanOptions {
    const char *root;   /* a directory (recursive), a single file, or "-": paths on stdin */
    int threads;        /* 0: one per online core */
    int json;           /* JSON lines on stdout instead of text */
    int quiet;          /* no progress line */
    float intra_weight; /* a clip's I frames against its others (frame.h) */
} FmScanOptions;

/*
 * Runs the scan and prints its results (stdout) and progress and unreadable
 * files (stderr; stdout too with --json). Returns the exit status of
 * wmdetect: 0 a title identified (a signature verified, alone or jointly),
 * 3 a mark present (alone, or combined at p <= 1e-9) but no signature
 * verified, 1 nothing found, 2 an error that stopped the scan.
 */
int fm_scan_run(const FmScanOptions *opt, FmKey *const *keys, int nkeys);

#endif
