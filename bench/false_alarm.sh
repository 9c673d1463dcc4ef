#!/bin/bash
# false_alarm.sh - benchmark: is the false-alarm probability honest?
#
# Runs bench/false_alarm.c over >= 10^4 unmarked segments (real footage at
# small sizes, crops of other aspect ratios, x264 re-encodes, footage marked
# with other keys, synthetic pictures), each with random detection keys, and
# writes bench/results/false_alarm.md: found/verified counts, the empirical
# distribution of the reported p against its nominal value, and the best-of-
# 16384 pilot z against the maximum of 16384 N(0,1).
#
#   bench/false_alarm.sh            # full run (10^4 segments; ~40 min on 2 idle cores)
#   bench/false_alarm.sh --quick    # ~2 min: 300 segments of the short clips,
#                                   # report to $WORK/false_alarm_quick.md
#   bench/false_alarm.sh --report-only [--quick]   # the report again, from the last run's TSV
# Options: --segments N --keys K --full-every K --workers W --seed S
#          --build DIR (default build-fa next to the tree, else build)
#          --work DIR (prepared frames and TSVs; default $BUILD/fa-work)
#          --out FILE (the report)
# Media: $FILMMARK_MEDIA or ~/.cache/filmmark-media (../shared/media/get.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0 REPORT_ONLY=0 SEGMENTS= KEYS= FULL_EVERY= WORKERS=2 SEED=1 BUILD= WORK= OUT=
ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift;;
    --report-only) REPORT_ONLY=1; shift;;
    --segments) SEGMENTS=$2; shift 2;;
    --keys) KEYS=$2; shift 2;;
    --full-every) FULL_EVERY=$2; shift 2;;
    --workers) WORKERS=$2; shift 2;;
    --seed) SEED=$2; shift 2;;
    --build) BUILD=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    -h|--help) sed -n '2,21p' "$0"; exit 0;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
if [ -z "$BUILD" ]; then
  if [ -x "$ROOT/../build-fa/false_alarm" ]; then BUILD=$(cd "$ROOT/../build-fa" && pwd); else BUILD=$ROOT/build; fi
fi
BIN=$BUILD/false_alarm
[ -x "$BIN" ] || { echo "build it first: cmake --build $BUILD --target false_alarm" >&2; exit 2; }
WORK=${WORK:-$BUILD/fa-work}
MEDIA_SRC=${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}
M=$WORK/media
mkdir -p "$M"
if [ $QUICK = 1 ]; then
  SEGMENTS=${SEGMENTS:-300} KEYS=${KEYS:-1} FULL_EVERY=${FULL_EVERY:-6}
  OUT=${OUT:-$WORK/false_alarm_quick.md} TAG=quick
else
  SEGMENTS=${SEGMENTS:-10000} KEYS=${KEYS:-2} FULL_EVERY=${FULL_EVERY:-8}
  OUT=${OUT:-$ROOT/bench/results/false_alarm.md} TAG=full
fi

# ---- sources: raw 8-bit gray frames, small ----
ff() { ffmpeg -nostdin -hide_banner -v error -y "$@"; }
gray() {  # name size -> $M/name_size.gray from the master
  local n=$1 s=$2 out=$M/$1_$2.gray
  [ -s "$out" ] && return 0
  [ -f "$MEDIA_SRC/$n.mkv" ] || return 1
  echo "decoding $n at $s" >&2
  ff -threads 2 -i "$MEDIA_SRC/$n.mkv" -an -vf "scale=${s/x/:}:flags=area,format=gray" \
     -f rawvideo -pix_fmt gray "$out.tmp" && mv "$out.tmp" "$out"
}
rescale() {  # in.gray W H FPS size -> out
  local in=$1 w=$2 h=$3 fps=$4 s=$5 out=$6
  [ -s "$out" ] && return 0
  ff -f rawvideo -pix_fmt gray -s ${w}x$h -r "$fps" -i "$in" -vf "scale=${s/x/:}:flags=area" \
     -f rawvideo -pix_fmt gray "$out.tmp" && mv "$out.tmp" "$out"
}
x264() {  # in.gray W H FPS CRF FIRST COUNT MARKSEED(0: none) SIZE -> out.gray
  # frames FIRST.. of in (W x H), scaled to SIZE, marked with the key of
  # MARKSEED unless 0, encoded with x264 at CRF and decoded back to gray
  local in=$1 w=$2 h=$3 fps=$4 crf=$5 first=$6 count=$7 ms=$8 size=$9 out=${10}
  [ -s "$out" ] && return 0
  local fs=$((w * h)) tmp=$out.tmp.mkv tw=${size%x*} th=${size#*x}
  echo "x264 crf $crf at $size$( [ "$ms" != 0 ] && echo ", marked with key seed $ms"): $(basename "$out")" >&2
  dd if="$in" bs=$fs skip="$first" count="$count" status=none |
    if [ "$size" = "${w}x$h" ]; then cat; else
      ff -f rawvideo -pix_fmt gray -s ${w}x$h -r "$fps" -i - -vf "scale=$tw:$th:flags=bicubic" \
         -f rawvideo -pix_fmt gray -; fi |
    if [ "$ms" = 0 ]; then cat; else "$BIN" mark "$tw" "$th" "$fps" "$ms"; fi |
    ff -f rawvideo -pix_fmt gray -s "$size" -r "$fps" -i - -c:v libx264 -preset veryfast \
       -crf "$crf" -pix_fmt yuv420p "$tmp"
  ff -i "$tmp" -f rawvideo -pix_fmt gray "$out.tmp" && mv "$out.tmp" "$out" && rm -f "$tmp"
  if [ "$ms" != 0 ]; then  # the mark is there: its own key finds it (whole source)
    echo "  own key on the whole source: $("$BIN" detect "$tw" "$th" "$fps" "$ms" < "$out" || true)" >&2
  fi
}

MAN=$WORK/manifest_$TAG.txt
TSV=$WORK/false_alarm_$TAG.tsv
INFO=$WORK/runinfo_$TAG.txt
if [ $REPORT_ONLY = 0 ]; then
: > "$MAN"
add() { [ -s "$6" ] && echo "$*" >> "$MAN" || echo "skipped $1 (no $6)" >&2; }
if [ $QUICK = 1 ]; then
  CLIPS="dune_1080p24 storm_720p25 vtest_768x576"
else
  CLIPS="dune_1080p24 storm_720p25 vtest_768x576 raindrops_1080p24 elephants_2160p24 long_1080p24"
fi
for n in $CLIPS; do
  case $n in vtest*) s=400x300 fps=10;; storm*) s=480x270 fps=25;; *) s=480x270 fps=24;; esac
  gray $n $s || { echo "no $n: skipped" >&2; continue; }
  add ${n%%_*} real ${s/x/ } $fps "$M/${n}_$s.gray"
done
D=$M/dune_1080p24_480x270.gray V=$M/vtest_768x576_400x300.gray S=$M/storm_720p25_480x270.gray
L=$M/long_1080p24_480x270.gray R=$M/raindrops_1080p24_480x270.gray
# Marked with another key: real frames scaled up to 640x360 (480x360 for
# vtest: the mark grid's height, where the mark survives x264 well), marked,
# x264 CRF 20-24. Marking keys: seeds far from the detection keys'.
if [ -s "$D" ]; then
  x264 "$D" 480 270 24 23 0 240 9000000001 640x360 "$M/dune_m1_crf23.gray"
  add dune-marked marked 640 360 24 "$M/dune_m1_crf23.gray" 9000000001
fi
if [ -s "$V" ]; then
  x264 "$V" 400 300 10 28 0 200 0 400x300 "$M/vtest_crf28.gray"
  add vtest-x264 x264 400 300 10 "$M/vtest_crf28.gray"
fi
if [ $QUICK = 0 ]; then
  [ -s "$S" ] && { rescale "$S" 480 270 25 320x180 "$M/storm_320x180.gray"
                   add storm-320 real 320 180 25 "$M/storm_320x180.gray"; }
  [ -s "$V" ] && { rescale "$V" 400 300 10 320x240 "$M/vtest_320x240.gray"
                   add vtest-320 real 320 240 10 "$M/vtest_320x240.gray"; }
  if [ -s "$L" ]; then
    rescale "$L" 480 270 24 320x180 "$M/long_320x180.gray"
    add long-320 real 320 180 24 "$M/long_320x180.gray"
    x264 "$L" 480 270 24 35 2400 1488 0 480x270 "$M/long_crf35.gray"
    add long-x264 x264 480 270 24 "$M/long_crf35.gray"
    x264 "$L" 480 270 24 20 0 1440 9000000002 640x360 "$M/long_m2_crf20.gray"
    add long-marked-a marked 640 360 24 "$M/long_m2_crf20.gray" 9000000002
    x264 "$L" 480 270 24 24 1440 960 9000000003 640x360 "$M/long_m3_crf24.gray"
    add long-marked-b marked 640 360 24 "$M/long_m3_crf24.gray" 9000000003
  fi
  if [ -s "$D" ]; then
    x264 "$D" 480 270 24 33 0 240 0 480x270 "$M/dune_crf33.gray"
    add dune-x264 x264 480 270 24 "$M/dune_crf33.gray"
  fi
  if [ -s "$R" ]; then
    x264 "$R" 480 270 24 30 0 144 0 480x270 "$M/raindrops_crf30.gray"
    add raindrops-x264 x264 480 270 24 "$M/raindrops_crf30.gray"
  fi
  if [ -s "$S" ]; then
    x264 "$S" 480 270 25 20 0 250 9000000004 640x360 "$M/storm_m4_crf20.gray"
    add storm-marked marked 640 360 25 "$M/storm_m4_crf20.gray" 9000000004
  fi
  if [ -s "$V" ]; then
    x264 "$V" 400 300 10 23 0 200 9000000005 480x360 "$M/vtest_m5_crf23.gray"
    add vtest-marked marked 480 360 10 "$M/vtest_m5_crf23.gray" 9000000005
  fi
fi
echo "sources:" >&2; sed 's/^/  /' "$MAN" >&2

# ---- the run ----
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
# local changes that could be in the library (common/*.c is globbed: untracked files too)
DIRTY=$(git -C "$ROOT" status --porcelain -- common CMakeLists.txt bench/false_alarm.c | awk '{printf "%s`%s` (%s)", (NR > 1 ? ", " : ""), $2, $1}')
LIBDIRTY=$(git -C "$ROOT" status --porcelain -- common/detector.c common/detector.h common/accumulator.c common/accumulator.h common/pattern.c common/pattern.h common/geometry.c common/resample.c common/dct.c common/fec.c common/payload.c | wc -l)
rm -f "$TSV".w*
START=$(date -u +%Y-%m-%dT%H:%MZ)
T0=$(date +%s)
CMD=("$BIN" run --manifest "$MAN" --segments "$SEGMENTS" --workers "$WORKERS" --keys "$KEYS"
     --full-every "$FULL_EVERY" --seed "$SEED" --out "$TSV")
/usr/bin/time -f "%U %S" -o "$WORK/time_$TAG.txt" "${CMD[@]}"
T1=$(date +%s)
{ head -n 1 "$TSV.w0"; cat "$TSV".w* | grep -v '^idx' | sort -n -k1,1 -k2,2; } > "$TSV"
rm -f "$TSV".w*
printf '%s\n' "$START" "$((T1 - T0))" "$(cat "$WORK/time_$TAG.txt")" "bench/false_alarm.sh ${ARGS[*]:-}" \
  "$SEGMENTS" "$KEYS" "$FULL_EVERY" "$WORKERS" "$SEED" "$COMMIT" "$DIRTY" "$LIBDIRTY" > "$INFO"
fi
[ -s "$TSV" ] && [ -s "$INFO" ] || { echo "no run to report on ($TSV)" >&2; exit 2; }
mapfile -t RI < "$INFO"

# ---- the report ----
python3 - "$TSV" "$OUT" "${RI[@]}" <<'PY'
import sys, math, collections
(tsv, out, start, wall, cpu, cmd, nseg, nkeys, full_every, workers, seed, commit, dirty,
 libdirty) = sys.argv[1:15]
rows = []
with open(tsv) as f:
    head = f.readline().rstrip('\n').split('\t')
    for line in f:
        v = line.rstrip('\n').split('\t')
        rows.append(dict(zip(head, v)))
def num(r, k): return float(r[k])
H1 = 16384
prim = [r for r in rows if r['key_rank'] == '0']
N = len(prim)

def Phi(z): return 0.5 * math.erfc(-z / math.sqrt(2))
def Q(z): return 0.5 * math.erfc(z / math.sqrt(2))
def zmax_quantile(q, H=H1):
    # P(max <= z) = Phi(z)^H = q  ->  Q(z) = -expm1(log(q)/H)
    t = -math.expm1(math.log(q) / H)
    lo, hi = 0.0, 12.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if Q(mid) > t: lo = mid
        else: hi = mid
    return (lo + hi) / 2
def quantile(xs, q):
    xs = sorted(xs); n = len(xs)
    if n == 0: return float('nan')
    k = q * (n - 1); i = int(math.floor(k)); fr = k - i
    return xs[i] if i + 1 >= n else xs[i] * (1 - fr) + xs[i + 1] * fr
def binom_tail(n, k, p):
    # P(X >= k), X ~ Bin(n, p)
    if k <= 0: return 1.0
    lg = math.lgamma
    s = 0.0
    for j in range(k, n + 1):
        t = lg(n + 1) - lg(j + 1) - lg(n - j + 1) + j * math.log(p) + (n - j) * math.log1p(-p)
        s += math.exp(t)
        if j > n * p and t < -50: break   # past the mode, terms negligible
    return min(1.0, s)
def fmt_p(x):
    return '%.2g' % x if x >= 1e-3 else '%.1e' % x

L = []
w = L.append
w('# Is the false-alarm probability honest? (the detector of the commit below)')
w('')
w('`bench/false_alarm.sh` (`bench/false_alarm.c`): unmarked video segments of 2-10 s, each')
w('accumulated with `FmAccumulator` and detected with keys of its own (random, a new one per')
w('segment and key rank), and the reported `false_alarm_probability` compared with what it')
w('claims to be: for an unmarked segment, P(p <= a) <= a.')
w('')
w('* Commit measured: `%s`%s; run started %s, %s s wall (CPU: user %s s, system %s s), %s workers on a 2-core machine shared with other jobs.' % (
    commit, (' + local changes: %s; %s' % (dirty, 'the detection path (detector, accumulator, pattern, geometry, resample, dct, fec, payload) is as committed' if int(libdirty) == 0 else '**%s detection-path files changed**' % libdirty)) if dirty else '',
    start, wall, cpu.split()[0], cpu.split()[1], workers))
w('* Command: `%s` (= `false_alarm run --segments %s --keys %s --full-every %s --workers %s --seed %s`).' % (
    cmd.strip(), nseg, nkeys, full_every, workers, seed))
w('* What is measured where: **every segment** (all keys): the nominal-grid statistic, computed by the')
w('  benchmark from the accumulator\'s windows with the same code as `detector.c` (stretches of')
w('  20 windows, 4 phases x 4096 first epochs, p = Q(z_best) x 16384 x stretches), because')
w('  `fm_detect()` on an unmarked clip always goes on to the geometry search and the list decoder,')
w('  ~0.3 s more a segment, too slow for 10^4 segments here. **Every %s-th segment** (first key):' % full_every)
w('  `fm_detect()` itself, whose result (nominal grid or searched geometry, whichever has the')
w('  smaller p; found; signature_valid) is what a user sees.')
w('')
VPOS = len(L)

# --- segments
kinds = collections.Counter(r['kind'] for r in prim)
srcs = collections.Counter(r['source'] for r in prim)
w('## Segments')
w('')
w('%d segments, %d (segment, key) pairs. By kind: %s.' % (N, len(rows),
  ', '.join('%s %d' % (k, kinds[k]) for k in ('real', 'x264', 'marked', 'synth') if kinds[k])))
w('')
w('* real: the clips of `~/.cache/filmmark-media` decoded to 8-bit gray at 480x270 (vtest 400x300), some also at 320x180 / 320x240; about a third of the segments are crops of another aspect ratio (1:1, 4:3, 2.39:1, 9:16, 3:2, 1.85:1, 2:1; 50-100 % of the largest that fits, at a random place), frame rate divided by 1-4 (5-25 fps).')
w('* x264: real frames re-encoded with x264 (veryfast, CRF 28-35: blocking), unmarked.')
w('* marked: real frames scaled to 640x360 (vtest 480x360), **marked with another key** (`false_alarm mark`: `fm_embedder`, default strength; 5 marking keys), then x264 CRF 20-24; detected with the segment\'s own random key. About a third are crops, as above.')
w('* synth: noise, static noise, gradients, flat (pure and dithered), drifting textures, random 8x8/16x16 blocks, a panning random field; 10 sizes from 180x320 to 640x360; 6-24 fps.')
w('')
w('Sources (segments): ' + ', '.join('%s %d' % (k, v) for k, v in sorted(srcs.items())) + '.')
durs = [num(r, 'dur_s') for r in prim]; frs = [num(r, 'frames') for r in prim]
w('Duration %.1f-%.1f s (median %.1f), %d-%d frames (median %d); sizes %d distinct.' % (
  min(durs), max(durs), quantile(durs, .5), min(frs), max(frs), quantile(frs, .5),
  len(set((r['w'], r['h']) for r in prim))))
st = collections.Counter(r['nom_stretches'] for r in prim)
w('Stretches searched per segment: %s (so 16384 hypotheses per key each).' % ', '.join('%s: %d' % kv for kv in sorted(st.items())))
w('')

# --- found
full = [r for r in prim if r['full'] == '1']
nom_found = sum(1 for r in rows if num(r, 'nom_log10p') <= -9)
f_found = sum(1 for r in full if r['found'] == '1')
f_sig = sum(1 for r in full if r['signature_valid'] == '1')
own = [r for r in full if r['own_checked'] == '1']
own_ok = sum(1 for r in own if r['own_found'] == '1' and r['own_sig'] == '1')
w('## Found / verified')
w('')
w('| | segments | found | signature valid |')
w('| --- | --- | --- | --- |')
w('| nominal grid, all (segment, key) pairs (found = p <= 1e-9) | %d | **%d** | (not decoded) |' % (len(rows), nom_found))
w('| `fm_detect()`, full subset | %d | **%d** | **%d** |' % (len(full), f_found, f_sig))
w('')
if own:
    def ownline(sel, what):
        if not sel: return ''
        fd = sum(1 for r in sel if r['own_found'] == '1')
        ok = sum(1 for r in sel if r['own_found'] == '1' and r['own_sig'] == '1')
        oz = sorted(num(r, 'own_z') for r in sel)
        return '%s: %d of %d found, %d of them verified (its own key\'s pilot z median %.1f, range %.1f-%.1f)' % (
            what, fd, len(sel), ok, quantile(oz, .5), oz[0], oz[-1])
    whole = [r for r in own if r['crop'] == '0']; crop = [r for r in own if r['crop'] == '1']
    w('Control: the %d marked-with-another-key segments of the full subset were also given to `fm_detect()` with the key that **did** mark them. %s.' % (
      len(own), '; '.join(x for x in (ownline(whole, 'Whole picture'), ownline(crop, 'crops of another aspect ratio (geometry search)')) if x)))
    w('The whole-picture ones carry a real mark that its own key reads (the misses, and the found ones whose message does not decode, are short, low-frame-rate segments), and it does not look like the detection key\'s. Most crops of the 640x360 marked sources are not found even by their own key (the geometry search on short, small crops): they test the searched path against another key\'s weak mark, not a strong one.')
    w('')

# --- p distribution
def ptable(sel, label, col):
    n = len(sel)
    cells = []
    for a in (0.1, 0.01, 0.001):
        k = sum(1 for r in sel if num(r, col) <= math.log10(a) + 1e-12)
        cells.append((a, k))
    return n, cells
w('## The reported p against its nominal value')
w('')
w('For an honest bound the fraction of unmarked segments with p <= a must be at most a; with')
w('16384 nearly independent hypotheses it should be close to 1 - (1 - a/16384)^16384 ~ 1 - e^-a')
w('(0.0952, 0.00995, 0.0009995). "P(>= k)" is the binomial chance of at least that many at the')
w('nominal rate a: a small value would mean the p is not honest.')
w('')
w('| p from | n | p <= 0.1 | p <= 0.01 | p <= 0.001 |')
w('| --- | --- | --- | --- | --- |')
CHECKS = []
def line(label, sel, col):
    n, cells = ptable(sel, label, col)
    if n == 0: return
    for a, k in cells:
        CHECKS.append((label, n, a, k, binom_tail(n, k, a)))
    c = []
    for a, k in cells:
        c.append('%d = %.4f (P(>= k) %s)' % (k, k / n, fmt_p(binom_tail(n, k, a))))
    w('| %s | %d | %s |' % (label, n, ' | '.join(c)))
w('| nominal a / iid expectation | | 0.1 / 0.0952 | 0.01 / 0.00995 | 0.001 / 0.0010 |')
line('nominal grid, first key of each segment', prim, 'nom_log10p')
line('nominal grid, all (segment, key) pairs', rows, 'nom_log10p')
for k in ('real', 'x264', 'marked', 'synth'):
    sel = [r for r in rows if r['kind'] == k]
    line('&nbsp;&nbsp;%s, all keys' % k, sel, 'nom_log10p')
line('`fm_detect()` (full subset)', full, 'false_alarm_log10')
if rows and 'signs_log10p' in rows[0]:
    line('per-epoch signs (chi-squared, both statistics counted), first key', prim, 'signs_log10p')
    line('per-epoch signs, all (segment, key) pairs', rows, 'signs_log10p')
w('')
if rows and 'signs_log10p' in rows[0]:
    w('The per-epoch-sign statistic (0.8.3): the sum of the epoch groups\' squared pilot z, whose')
    w('tail is chi-squared with as many degrees of freedom as groups; `fm_detect()` reports its p')
    w('(its hypotheses counted twice: both statistics are searched) only with a signature that')
    w('verifies, so on unmarked segments it is checked here, from the benchmark\'s copy of the search.')
    w('')

# --- z quantiles
zs = [num(r, 'nom_z') for r in prim if r['nom_stretches'] == '1']
za = [num(r, 'nom_z') for r in rows if r['nom_stretches'] == '1']
w('## Best-of-16384 pilot z against the maximum of 16384 N(0,1)')
w('')
w('Nominal grid, one stretch (all segments here), P(max <= z) = Phi(z)^16384:')
w('')
w('| quantile | theory | observed, first key (n = %d) | observed, all pairs (n = %d) |' % (len(zs), len(za)))
w('| --- | --- | --- | --- |')
for q in (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999):
    w('| %g | %.3f | %.3f | %.3f |' % (q, zmax_quantile(q), quantile(zs, q), quantile(za, q)))
# theoretical mean / sd by integration
def pdf_max(z): return H1 * Phi(z) ** (H1 - 1) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
grid = [2 + i * 0.0005 for i in range(int(5 / 0.0005))]
m0 = sum(pdf_max(z) for z in grid) * 0.0005
m1 = sum(z * pdf_max(z) for z in grid) * 0.0005 / m0
m2 = sum(z * z * pdf_max(z) for z in grid) * 0.0005 / m0
def msd(x):
    mu = sum(x) / len(x); return mu, math.sqrt(sum((v - mu) ** 2 for v in x) / (len(x) - 1))
mu, sd = msd(zs)
w('| mean (sd) | %.3f (%.3f) | %.3f (%.3f) | %.3f (%.3f) |' % ((m1, math.sqrt(m2 - m1 * m1)) + (mu, sd) + msd(za)))
# KS
def ks(x):
    x = sorted(x); n = len(x); d = 0
    for i, v in enumerate(x):
        F = Phi(v) ** H1
        d = max(d, abs(F - i / n), abs(F - (i + 1) / n))
    return d
w('')
w('Kolmogorov-Smirnov distance to Phi^16384: %.4f (first key), %.4f (all pairs); the 5 %% critical values are %.4f and %.4f. The observed z lies below the theory at every quantile (stochastically smaller: conservative), and the pairs with z = 0 (below) add to the distance.' % (
  ks(zs), ks(za), 1.358 / math.sqrt(len(zs)), 1.358 / math.sqrt(len(za))))
w('')
# effective number of independent hypotheses, by segment length
w('Effective number of independent hypotheses, H_eff = ln 2 / Q(median z) (16384 if they were independent), and the fraction with p <= 0.1, by segment length (all pairs):')
w('')
w('| length | n | median z | H_eff | p <= 0.1 |')
w('| --- | --- | --- | --- | --- |')
for lo, hi in ((0, 3), (3, 5), (5, 7.5), (7.5, 10.5)):
    sel = [r for r in rows if lo <= num(r, 'dur_s') < hi and num(r, 'nom_z') > 0]
    if not sel: continue
    mz = quantile([num(r, 'nom_z') for r in sel], .5)
    k = sum(1 for r in sel if num(r, 'nom_log10p') <= -1 + 1e-12)
    w('| %g-%g s | %d | %.3f | %.0f | %.4f |' % (lo if lo else 2, min(hi, 10), len(sel), mz, math.log(2) / Q(mz), k / len(sel)))
w('')
w('The maximum is what fewer independent hypotheses would give. Likely cause: the 16384 are correlated (the 4 phases group the same windows differently, and hypotheses of different phases that put the same epoch on overlapping windows share its pilot); lighter-than-Gaussian tails of the self-normalised sums would act the same way. Either way Q(z) x 16384 over-counts, by about 16384 / H_eff: conservative.')
w('')
w('By kind (all pairs): ' + '; '.join('%s median %.3f, 99 %% %.3f (n %d)' % (
  k, quantile([num(r, 'nom_z') for r in rows if r['kind'] == k], .5),
  quantile([num(r, 'nom_z') for r in rows if r['kind'] == k], .99),
  sum(1 for r in rows if r['kind'] == k)) for k in ('real', 'x264', 'marked', 'synth') if kinds[k]) +
  '; theory median %.3f, 99 %% %.3f.' % (zmax_quantile(.5), zmax_quantile(.99)))
zero = sum(1 for r in rows if num(r, 'nom_z') == 0)
if zero:
    w('(%d pairs have z = 0 exactly: flat pictures whiten to nothing; p = 1.)' % zero)
w('')

# --- cross-check and geometry path
w('## fm_detect: the path reported, and the cross-check')
w('')
nomp = [r for r in full if r['searched'] == '0']
srch = [r for r in full if r['searched'] == '1']
dz = [abs(num(r, 'pilot_z') - num(r, 'nom_z')) for r in nomp]
exact = sum(1 for r in nomp if r['pilot_z'] == r['nom_z'] and r['false_alarm_log10'] == r['nom_log10p'] and r['hypotheses'] == r['nom_hyp'])
w('Of the %d segments given to `fm_detect()`, %d were reported on the nominal grid and %d on a searched geometry (`geometry.searched`).' % (len(full), len(nomp), len(srch)))
if nomp:
    w('On the nominal-grid ones the benchmark\'s own statistic equals fm_detect\'s: pilot z, log10 p and hypotheses identical in %d of %d (largest |difference| in z %.2g).' % (exact, len(nomp), max(dz)))
if srch:
    hs = sorted(math.log10(num(r, 'hypotheses')) for r in srch)
    zz = sorted(num(r, 'pilot_z') for r in srch)
    pp = sorted(num(r, 'false_alarm_log10') for r in srch)
    w('Searched geometry reported (its p was smaller): pilot z %.2f-%.2f (median %.2f), hypotheses 10^%.1f-10^%.1f, log10 p %.2f to %.2f.' % (
      zz[0], zz[-1], quantile(zz, .5), hs[0], hs[-1], pp[0], pp[-1]))
w('The searched path counts 16384 x (geometries compared + 1) hypotheses, so its p is small only when its z is far above the nominal one; fm_detect reports the smaller of the two p, which a union bound puts at no more than (1 + 1/(geometries + 1)) x the nominal rate.')
w('')
acc = [num(r, 'acc_ms') for r in prim]; nm = [num(r, 'nom_ms') for r in rows]; fm = [num(r, 'full_ms') for r in full]
w('Cost per segment (CPU): accumulation %.0f ms, nominal statistic %.0f ms a key, fm_detect %.0f ms (medians).' % (
  quantile(acc, .5), quantile(nm, .5), quantile(fm, .5) if fm else 0))
w('')
# --- verdict, at the top
V = ['## Verdict', '']
alarms = nom_found + f_found + f_sig
main = [c for c in CHECKS if not c[0].startswith('&nbsp;')]
worst = min(CHECKS, key=lambda c: c[4])
bad = [c for c in main if c[4] < 1e-3] + [c for c in CHECKS if c[0].startswith('&nbsp;') and c[4] < 1e-4]
z50, t50 = quantile(zs, .5), zmax_quantile(.5)
z99, t99 = quantile(zs, .99), zmax_quantile(.99)
V.append('* **False alarms: %d** (found or verified) in %d unmarked (segment, key) pairs, %d of them through `fm_detect()` with the list decoder and the signature check.' % (alarms, len(rows), len(full)))
pr = [c for c in main if c[0].startswith('nominal grid, first')]
V.append('* Empirical P(p <= a) for the first key of each of the %d segments: %s (nominal 0.1 / 0.01 / 0.001; 1 - e^-a = 0.0952 / 0.00995 / 0.0010 for independent hypotheses).' % (
  N, ' / '.join('%.4f' % (c[3] / c[1]) for c in pr)))
if bad:
    V.append('* **The p is NOT honest**: ' + '; '.join('%s: %d of %d at p <= %g (%.4f, binomial P(>= k) %s)' % (c[0].replace('&nbsp;', ''), c[3], c[1], c[2], c[3] / c[1], fmt_p(c[4])) for c in bad) + '.')
else:
    V.append('* **The p is honest**: no empirical fraction exceeds its nominal value by more than chance (the least likely cell, %s at p <= %g: %d of %d, binomial P(>= k) = %s).' % (
      worst[0].replace('&nbsp;', ''), worst[2], worst[3], worst[1], fmt_p(worst[4])))
V.append('* The best-of-16384 pilot z sits %s the maximum of 16384 independent N(0,1) (median %.3f vs %.3f, 99 %% %.3f vs %.3f): %s' % (
  'below' if z50 < t50 else 'above', z50, t50, z99, t99,
  'it behaves like the maximum of about %.0f independent N(0,1) (ln 2 / Q(median)), so the Bonferroni factor over-counts by about %.1fx: conservative, not exact.' % (math.log(2) / Q(z50), H1 * Q(z50) / math.log(2)) if z50 < t50 else 'check the tail.'))
V.append('')
L[VPOS:VPOS] = V
open(out, 'w').write('\n'.join(L) + '\n')
PY
echo "report: $OUT" >&2
