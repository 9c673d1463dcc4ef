/*
 * scan_stats.h - the combined evidence of many files (wmdetect --scan).
 *
 * Each file scanned gets a false-alarm probability already corrected for
 * the hypotheses searched in it (p_i = min(1, H_i Q(z_i)), docs/DESIGN.md
 * section 6): without a mark of the key, P(p_i <= t) <= t for every t. The
 * scan counts the files whose p_i is at most a threshold tau fixed in
 * advance (FM_SCAN_FILE_TAU). Without a mark of the key in any of the n
 * files, the count is at most Binomial(n, tau) in distribution (exactly
 * Binomial(n, tau) when the p_i are exactly uniform and independent), so
 *
 *     P(count >= k) <= P(Bin(n, tau) >= k)
 *
 * is an honest combined false-alarm probability for k such files among n
 * scanned, multiplied by the number of keys tried. docs/DESIGN.md section 12
 * has the derivation; tests/test_scan.c checks it against the exact
 * distribution on synthetic evidence.
 */
#ifndef FM_SCAN_STATS_H
#define FM_SCAN_STATS_H

/* The per-file threshold of the count: a file counts when its corrected
 * false-alarm probability is at most this (a pilot z of about 6.5 for one
 * key on a still, 16384 hypotheses). */
#define FM_SCAN_FILE_TAU 1e-6

/* log10 P(Bin(n, p) >= k), exact (terms summed in log space). 0 <= p <= 1;
 * k <= 0 gives 0 (probability 1); k > n gives -INFINITY. */
double fm_binom_tail_log10(long n, double p, long k);

/* log10 of the combined false-alarm probability of k files out of n with a
 * corrected p at most tau, for one of `keys` keys tried: min(0, log10(keys)
 * + fm_binom_tail_log10(n, tau, k)). */
double fm_scan_combined_log10(long n, long k, double tau, int keys);

#endif
