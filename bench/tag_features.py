#!/usr/bin/python3
"""bench/tag_features.py - the content tag's features, offline (docs/DESIGN.md §10.1).

For the media set's clips (10 s each, ../shared/media/get.sh's cache) scaled
to the 640x360 mark grid, averaged per 2-s epoch, takes the 10x16 cells of
16x16 mark pixels at the tag's anchors and compares two feature choices:
  detrend - cell means less their plane fit (what formats 4 and 5 hash);
  hp      - each cell less the mean of its 8 neighbours (a local high-pass).
Prints, for each, the agreement of hash bits that keyed random projections
would give, (2/pi) asin(r), averaged over epochs:
  * transplants: one clip's features (anchor 384,128) against every other
    clip's (and upside-down copies), best of the detector's 4 anchors;
  * benign copies: the same clip after H.264 CRF 35, 240 rows, blur sigma 2.
Needs ffmpeg and numpy.   usage: /usr/bin/python3 bench/tag_features.py
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
    p = np.pad(c, 1, mode='edge')
    s = sum(p[1 + dy:11 + dy, 1 + dx:17 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)) - c
    g = (c - s / 8).ravel()
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


if __name__ == '__main__':
    main()
