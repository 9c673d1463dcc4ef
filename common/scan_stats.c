#include "scan_stats.h"

#include <math.h>

double fm_binom_tail_log10(long n, double p, long k)
{
    if (k <= 0)
        return 0;
    if (k > n || p <= 0)
        return -INFINITY;
    if (p >= 1)
        return 0;
    /* sum of C(n, j) p^j (1-p)^(n-j) for j = k..n in log space, from the
     * largest term down: terms fall fast beyond the mode, so stop when they
     * no longer change the sum */
    double lp = log(p), lq = log1p(-p);
    double lc = lgamma((double)n + 1);
    double mx = lc - lgamma((double)k + 1) - lgamma((double)(n - k) + 1) + k * lp + (n - k) * lq;
    double sum = 0;
    /* the terms rise until the mode; find the largest first */
    long mode = (long)floor((n + 1) * p);
    if (mode > k && mode <= n)
        mx = lc - lgamma((double)mode + 1) - lgamma((double)(n - mode) + 1) + mode * lp +
             (n - mode) * lq;
    for (long j = k; j <= n; j++) {
        double t = lc - lgamma((double)j + 1) - lgamma((double)(n - j) + 1) + j * lp + (n - j) * lq;
        double r = exp(t - mx);
        sum += r;
        if (j > mode && r < 1e-17 * sum)
            break;
    }
    double l = (mx + log(sum)) / M_LN10;
    return l > 0 ? 0 : l;
}

double fm_scan_combined_log10(long n, long k, double tau, int keys)
{
    double l = fm_binom_tail_log10(n, tau, k) + log10(keys > 0 ? keys : 1);
    return l > 0 ? 0 : l;
}
