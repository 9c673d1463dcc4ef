#!/usr/bin/env bash
# Where the CPU of one screener deliverable goes, and the peak memory of a
# batch for several batch sizes (issue 9 §2; complements bench/batch.sh).
#
#   bench/batch_parts.sh [--seconds S] [--rss-seconds R] [--results DIR] [CLIP]
#
# CLIP defaults to the 10-bit ProRes 422 HQ 1080p master of bench/batch.sh;
# its first S seconds (default 4) are the master. CPU seconds (user + sys,
# /usr/bin/time) of:
#   decode      ffmpeg decoding the master (what one decode per batch saves)
#   encode      ffmpeg encoding it to FFV1 with wmembed's settings (level 3,
#               slice CRCs, all intra), minus the decode
#   run         one wmembed deliverable, FFV1, self-check off
#   run+check   the same with the self-check on (the difference: the check)
#   readback    ffmpeg decoding that FFV1 deliverable (the check's decode)
# and the peak resident memory of `wmembed --recipients` with B recipients
# in one pass (--batch-size B) for B = 1, 4, 8, on the first R seconds
# (default 0.5; peak memory does not grow with the length).
# Writes bench/results/batch_parts.md and batch_parts.json.
set -euo pipefail
export FILMMARK_REGISTRY="${FILMMARK_REGISTRY_BENCH:-$(mktemp -d)/registry.sqlite}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
die() { echo "batch_parts.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

seconds=4 rss_seconds=0.5 results="$root/bench/results" clip=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --rss-seconds) rss_seconds="$2"; shift ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1" ;;
    *) clip="$1" ;;
  esac
  shift
done
[[ -n "$clip" ]] || clip="$MEDIA/dune_1080p24_prores422hq.mov"
[[ -f "$clip" ]] || die "no such clip: $clip (run ../shared/media/get.sh?)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
for t in wmkeygen wmembed; do [[ -x "$BIN/$t" ]] || die "$BIN/$t missing: run bash scripts/build.sh"; done

work="$root/bench/work/batch_parts"
rm -rf "$work"; mkdir -p "$work" "$results"
master="$work/master.${clip##*.}" short="$work/short.${clip##*.}"
ff=(ffmpeg -nostdin -hide_banner -loglevel error -y)
"${ff[@]}" -i "$clip" -t "$seconds" -map 0:v:0 -c copy "$master"
"${ff[@]}" -i "$clip" -t "$rss_seconds" -map 0:v:0 -c copy "$short"
"$BIN/wmkeygen" --no-passphrase -o "$work/key" >/dev/null
common=(-k "$work/key.key" --title-id 42 --issued 2026-12-01T00:00Z --codec ffv1 -q)

timed() {   # timed LABEL cmd...: appends "LABEL cpu_s maxrss_kb" to times.tsv
  local label="$1"; shift
  /usr/bin/time -f "%U %S %M" -o "$work/t.txt" "$@"
  read -r user sys rss <"$work/t.txt"
  echo "$label $(python3 -c "print($user+$sys)") $rss" >>"$work/times.tsv"
}

say "ffmpeg: decode, encode"
timed decode "${ff[@]}" -i "$master" -f null -
timed decode_encode "${ff[@]}" -i "$master" -c:v ffv1 -level 3 -slicecrc 1 -g 1 -f null -
say "wmembed: one deliverable without and with its self-check"
timed run "$BIN/wmembed" "${common[@]}" -i "$master" -o "$work/a.mkv" --recipient-id 1 --no-verify
timed run_check "$BIN/wmembed" "${common[@]}" -i "$master" -o "$work/b.mkv" --recipient-id 1
timed readback "${ff[@]}" -i "$work/b.mkv" -f null -
for b in 1 4 8; do
  say "peak memory: $b recipients in one pass"
  mkdir -p "$work/rss$b"
  echo "id,name,output" >"$work/rss$b.csv"
  for i in $(seq 1 "$b"); do echo "$i,r$i,$work/rss$b/r$i.mkv" >>"$work/rss$b.csv"; done
  timed "rss$b" "$BIN/wmembed" "${common[@]}" -i "$short" --recipients "$work/rss$b.csv" \
    --batch-size "$b" --allow-short
done

frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
         -of default=nw=1:nk=1 "$master")
python3 - "$work/times.tsv" "$results" "$(basename "$clip")" "$seconds" "$frames" "$rss_seconds" \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, os, sys, datetime
tsv, results, clip, secs, frames, rss_secs, cores, load = sys.argv[1:]
t = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(tsv)}
dec = t["decode"][0]
enc = t["decode_encode"][0] - dec
run, run_check, readback = t["run"][0], t["run_check"][0], t["readback"][0]
check = run_check - run
other = run_check - dec - enc - check        # marking, hashing, receipts, I/O
per = run_check - dec                        # what no sharing of the decode saves
n = 8
ceiling = n * run_check / (dec + n * per)
ceiling_all = n * run_check / (run_check - enc - check + n * (enc + check))
out = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%MZ"), "clip": clip,
       "seconds": float(secs), "frames": int(frames), "cores": int(cores), "load_after": load,
       "cpu_s": {"decode": round(dec, 2), "encode_ffv1": round(enc, 2),
                 "wmembed_no_check": round(run, 2), "wmembed_with_check": round(run_check, 2),
                 "self_check": round(check, 2), "ffv1_readback_decode": round(readback, 2),
                 "other": round(other, 2)},
       "ceiling_8_sharing_decode": round(ceiling, 2),
       "ceiling_8_sharing_all_but_encode_and_check": round(ceiling_all, 2),
       "peak_mb": {f"batch_{b}": round(t[f"rss{b}"][1] / 1024) for b in (1, 4, 8)},
       "rss_seconds": float(rss_secs)}
md = [f"# Where one screener deliverable's CPU goes, and a batch's memory",
      "",
      f"bench/batch_parts.sh, {out['date']}: master = first {secs} s of {clip} ({frames} frames),"
      f" FFV1 deliverables; {cores} cores, load average after the run {load} (CPU seconds are"
      " user + sys from /usr/bin/time and grow somewhat with the load).",
      "",
      "| part | CPU s | share of one deliverable |", "| --- | --- | --- |"]
for name, v in (("decoding the master (ffmpeg)", dec), ("FFV1 encoding (ffmpeg, wmembed's settings)", enc),
                ("self-check (run with check - run without)", check),
                ("marking, hashing, receipt, rest", other)):
    md.append(f"| {name} | {v:.1f} | {100 * v / run_check:.0f} % |")
md += [f"| **one wmembed deliverable, self-check on** | **{run_check:.1f}** | 100 % |",
       "",
       f"The self-check's own decode of the FFV1 deliverable alone (ffmpeg) costs {readback:.1f} s.",
       "",
       f"Ceiling of the CPU saving of one decode for {n} recipients: {ceiling:.2f}x (only the decode"
       f" shared), {ceiling_all:.2f}x (everything but the FFV1 encode and the self-check shared).",
       "",
       f"Peak resident memory of one pass of B recipients (`--batch-size B`, first {rss_secs} s,"
       " self-check on):",
       "",
       "| batch size | peak MB |", "| --- | --- |"]
md += [f"| {b} | {out['peak_mb'][f'batch_{b}']} |" for b in (1, 4, 8)]
with open(os.path.join(results, "batch_parts.json"), "w") as f:
    json.dump(out, f, indent=1)
with open(os.path.join(results, "batch_parts.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print("\n".join(md))
PY
