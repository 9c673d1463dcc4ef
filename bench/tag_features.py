#!/usr/bin/python3
"""bench/tag_features.py - the content tag's features, offline (docs/DESIGN.md §10.1).

For the media set's clips (10 s each, ../shared/media/get.sh's cache) scaled
to the 640x360 mark grid, averaged per 2-s epoch, takes the 10x16 cells of
16x16 mark pixels at the tag's anchors and compares two feature choices:
  detrend - cell means less their plane fit (what formats 4 and 5 hash);
  hp      - each cell less the mean of its neighbours in opposite pairs (a local
            high-pass: what format 6 hashes).
Prints, for each, the agreement of hash bits that keyed random projections
would give, (2/pi) asin(r), averaged over epochs:
  * transplants: one clip's features (anchor 384,128) against every other
    clip's (and upside-down copies), best of the detector's 4 anchors;
  * benign copies: the same clip after H.264 CRF 35, 240 rows, blur sigma 2.
  --null LONG_MASTER: the null of unrelated real pictures, epoch by epoch (see null()).
Needs ffmpeg and numpy.   usage: /usr/bin/python3 bench/tag_features.py [--null FILE]
"""
import os, subprocess, tempfile
import numpy as np

M = os.environ.get('FILMMARK_MEDIA', os.path.expanduser('~/.cache/filmmark-media')) + '/'
CLIPS = {'dune': ('dune_1080p24.mkv', 24), 'raindrops': ('raindrops_1080p24.mkv', 24),
         'storm': ('storm_720p25.mkv', 25), 'vtest': ('vtest_768x576.mkv', 10)}
ANCHORS = [(256, 128), (256, 256), (384, 128), (384, 256)]


def frames(path, pre=''):
    vf = (pre + ',' if pre else '') + 'scale=640:360:flags=area,format=gray'
    out = subprocess.run(['ffmpeg', '-v', 'error', '-i', path, '-t', '10', '-vf', vf, '-f',
                          'rawvideo', '-'], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, 360, 640).astype(float)


def epochs(a, fps):
    per = int(round(2 * fps))
    return [a[i:i + per].mean(0) for i in range(0, len(a) - per + 1, per)]


def cells(p, ax, ay):
    return p[ay - 80:ay + 80, ax - 128:ax + 128].reshape(10, 16, 16, 16).mean(axis=(1, 3))


def detrend(c):
    yy, xx = np.mgrid[0:10, 0:16]
    a = np.stack([np.ones(160), xx.ravel(), yy.ravel()], 1)
    return c.ravel() - a @ np.linalg.lstsq(a, c.ravel(), rcond=None)[0]


def highpass(c):
    """Format 6's features (common/content_tag.c): each cell less the mean of its
    neighbours in opposite pairs that lie inside the region (left/right, up/down,
    both diagonals); the four corners have no pair and are dropped."""
    g = np.zeros_like(c)
    keep = np.zeros(c.shape, bool)
    rows, cols = c.shape
    for r in range(rows):
        for k in range(cols):
            s, n = 0.0, 0
            for dr, dk in ((0, 1), (1, 0), (1, 1), (1, -1)):
                r1, k1, r2, k2 = r + dr, k + dk, r - dr, k - dk
                if 0 <= r1 < rows and 0 <= r2 < rows and 0 <= k1 < cols and 0 <= k2 < cols:
                    s += c[r1, k1] + c[r2, k2]
                    n += 1
            if n:
                g[r, k] = c[r, k] - s / (2 * n)
                keep[r, k] = True
    g = g[keep]
    return g - g.mean()


def agreement(fa, fb):
    r = float(fa @ fb / np.sqrt((fa @ fa) * (fb @ fb)))
    return 2 / np.pi * np.arcsin(r)


def main():
    ep = {n: epochs(frames(M + f), fps) for n, (f, fps) in CLIPS.items()}
    ep.update({n + '_vflip': epochs(frames(M + f, 'vflip'), fps) for n, (f, fps) in CLIPS.items()})
    tmp = tempfile.mkdtemp()
    copies = {}
    for n in ('storm', 'raindrops'):
        f, fps = CLIPS[n]
        for name, args in (('crf35', ['-c:v', 'libx264', '-crf', '35']),
                           ('240rows', ['-vf', 'scale=-2:240', '-c:v', 'libx264', '-crf', '28']),
                           ('blur2', ['-vf', 'gblur=sigma=2', '-c:v', 'libx264', '-crf', '23'])):
            out = os.path.join(tmp, n + name + '.mkv')
            subprocess.run(['ffmpeg', '-v', 'error', '-y', '-t', '10', '-i', M + f] + args + [out],
                           check=True)
            copies[(n, name)] = epochs(frames(out), fps)
    for feat, fname in ((detrend, 'detrend'), (highpass, 'hp')):
        rows = []
        for a in CLIPS:
            for b in ep:
                if b.startswith(a):
                    continue
                best = max(np.mean([agreement(feat(cells(x, 384, 128)), feat(cells(y, ax, ay)))
                                    for x, y in zip(ep[a], ep[b])]) for ax, ay in ANCHORS)
                rows.append((best, a, b))
        rows.sort(reverse=True)
        print('%-8s transplants, highest agreements: %s' % (fname, ', '.join(
            '%s->%s %.2f' % (a, b, x) for x, a, b in rows[:5])))
        print('%-8s benign copies: %s' % (fname, ', '.join(
            '%s %s %.2f' % (n, c, np.mean([agreement(feat(cells(x, 384, 128)), feat(cells(y, 384, 128)))
                                          for x, y in zip(ep[n], copies[(n, c)])]))
            for (n, c) in copies)))


def epoch_means(path, fps, pre=''):
    """2-s epoch means of a long clip at 640x360, streamed (no whole-clip array)."""
    vf = (pre + ',' if pre else '') + 'scale=640:360:flags=area,format=gray'
    proc = subprocess.Popen(['ffmpeg', '-v', 'error', '-i', path, '-vf', vf, '-f', 'rawvideo',
                             '-'], stdout=subprocess.PIPE)
    per, size, out = int(round(2 * fps)), 640 * 360, []
    while True:
        buf = proc.stdout.read(per * size)
        if len(buf) < per * size:
            break
        out.append(np.frombuffer(buf, np.uint8).reshape(per, 360, 640).astype(float).mean(0))
    proc.wait()
    return out


def null(path):
    """The agreement of unrelated pictures, epoch by epoch: every pair of 2-s epochs of a
    long master (bench/make_long_master.sh) that lie inside two shots of different
    sources (its .sources.tsv; epochs across a cut are skipped; the shots cut from one
    camera clip, the same static street view, count as one source), the second also upside
    down; both features, the region at the same anchor (384, 128) and at the best of
    the detector's four anchors."""
    shots = [l.rstrip('\n').split('\t') for l in open(path + '.sources.tsv')][1:]
    ep = epoch_means(path, 24)
    epf = epoch_means(path, 24, 'vflip')
    src = []
    for e in range(len(ep)):
        t0, t1, s = 2 * e, 2 * e + 2, None
        for sh in shots:
            a, d = float(sh[1]), float(sh[2])
            if a <= t0 and t1 <= a + d:
                s = sh[4].split(' from ')[0]   # shots cut from one camera clip: one source
        src.append(s)
    for feat, fname in ((detrend, 'detrend'), (highpass, 'hp')):
        fixed, best = [], []
        # features of every epoch (and its flipped twin) at every anchor, once
        f = [[[feat(cells(y, ax, ay)) for ax, ay in ANCHORS] for y in (ep[e], epf[e])]
             for e in range(len(ep))]
        home = ANCHORS.index((384, 128))
        for i in range(len(ep)):
            for j in range(len(ep)):
                if i == j or src[i] is None or src[j] is None or src[i] == src[j]:
                    continue
                fa = f[i][0][home]
                for flip in (0, 1):
                    fixed.append(agreement(fa, f[j][flip][home]))
                    best.append(max(agreement(fa, g) for g in f[j][flip]))
        for name, v in (('same anchor', np.array(fixed)), ('best of 4 anchors', np.array(best))):
            print('%-8s null, %s: %d epoch pairs, agreement mean %.3f sd %.3f, 99th percentile '
                  '%.3f, max %.3f, share >= 0.6: %.4f' % (fname, name, len(v), v.mean(), v.std(),
                                                       np.percentile(v, 99), v.max(),
                                                       (v >= 0.6).mean()))


if __name__ == '__main__':
    import sys
    if len(sys.argv) > 2 and sys.argv[1] == '--null':
        null(sys.argv[2])
    else:
        main()
