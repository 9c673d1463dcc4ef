#!/usr/bin/env bash
# Screener batches: one decode of the master for N recipients against N
# separate wmembed runs (issue 9 §2).
#
#   bench/batch.sh [--n N] [--seconds S] [--codec C] [--no-verify] [--results DIR] [CLIP]
#
# CLIP defaults to the 10-bit ProRes 422 HQ 1080p master of the media cache
# (dune_1080p24_prores422hq.mov; ../shared/media/get.sh), where decoding
# weighs most; its first S seconds (default 4) are the master, kept in
# ProRes (copied, not re-encoded). Both ways write N (default 8) FFV1
# deliverables (--codec to change) with the same key, title and issue time:
#   separate: N runs of `wmembed -o ... --recipient-id i`, one after another;
#   batch:    one `wmembed --recipients list.csv` (--batch-size N).
# Wall-clock and CPU seconds and peak memory come from /usr/bin/time. The
# deliverables of both ways are checked to carry the same payloads. With
# --no-verify both skip the self-check; by default both do it.
# Writes bench/results/batch.md and batch.json (batch_noverify.* with
# --no-verify).
set -euo pipefail
# issuances made here go to a throwaway registry, never the user's
export FILMMARK_REGISTRY="${FILMMARK_REGISTRY_BENCH:-$(mktemp -d)/registry.sqlite}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
die() { echo "batch.sh: $*" >&2; exit 2; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

n=8 seconds=4 codec=ffv1 verify=1 results="$root/bench/results" clip=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --n) n="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --codec) codec="$2"; shift ;;
    --no-verify) verify=0 ;;
    --results) results="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1" ;;
    *) clip="$1" ;;
  esac
  shift
done
[[ "$n" =~ ^[1-9][0-9]*$ && "$n" -le 64 ]] || die "--n wants 1..64"
[[ -n "$clip" ]] || clip="$MEDIA/dune_1080p24_prores422hq.mov"
[[ -f "$clip" ]] || die "no such clip: $clip (run ../shared/media/get.sh?)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
for t in wmkeygen wmembed wmdetect; do [[ -x "$BIN/$t" ]] || die "$BIN/$t missing: run bash scripts/build.sh"; done

work="$root/bench/work/batch"
rm -rf "$work"; mkdir -p "$work/sep" "$work/batch" "$results"
ext=mkv; [[ "$codec" == h264 ]] && ext=mp4; [[ "$codec" == vp9 ]] && ext=webm
master="$work/master.${clip##*.}"
ffmpeg -nostdin -hide_banner -loglevel error -y -i "$clip" -t "$seconds" -map 0:v:0 -c copy "$master"
"$BIN/wmkeygen" --no-passphrase -o "$work/key" >/dev/null
extra=(--issued 2026-12-01T00:00Z --codec "$codec" --title-id 42 -q)
[[ $verify == 1 ]] || extra+=(--no-verify)

timed() {   # timed LABEL -- cmd...: appends "LABEL wall cpu maxrss_kb" to times.tsv
  local label="$1"; shift 2
  /usr/bin/time -f "%e %U %S %M" -o "$work/t.txt" "$@"
  read -r wall user sys rss <"$work/t.txt"
  echo "$label $wall $(python3 -c "print($user+$sys)") $rss" >>"$work/times.tsv"
}

echo "id,name,output" >"$work/list.csv"
for i in $(seq 1 "$n"); do echo "$i,recipient $i,$work/batch/r$i.$ext" >>"$work/list.csv"; done

load_sep=$(cut -d' ' -f1 /proc/loadavg)
say "separate: $n runs"
: >"$work/sep_runs.tsv"
for i in $(seq 1 "$n"); do
  timed "sep$i" -- "$BIN/wmembed" -k "$work/key.key" -i "$master" -o "$work/sep/r$i.$ext" \
    --recipient-id "$i" "${extra[@]}"
done
load_batch=$(cut -d' ' -f1 /proc/loadavg)
say "batch: one run, --batch-size $n"
timed batch -- "$BIN/wmembed" -k "$work/key.key" -i "$master" --recipients "$work/list.csv" \
  --batch-size "$n" "${extra[@]}"

say "checking the payloads"
for i in $(seq 1 "$n"); do
  for way in sep batch; do
    got=$("$BIN/wmdetect" -k "$work/key.dkey" --json -q "$work/$way/r$i.$ext" |
          python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["recipient_id"] if d["signature_valid"] else "none")')
    [[ "$got" == "$i" ]] || die "$way deliverable $i reads recipient $got"
  done
done

frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
         -of default=nw=1:nk=1 "$master")
suffix=""; [[ $verify == 1 ]] || suffix="_noverify"
python3 - "$work/times.tsv" "$results" "$suffix" "$n" "$codec" "$verify" "$frames" \
  "$(basename "$clip")" "$seconds" "$(nproc)" "$load_sep / $load_batch" <<'PY'
import json, os, sys, datetime
tsv, results, suffix, n, codec, verify, frames, clip, secs, cores, load = sys.argv[1:]
rows = [l.split() for l in open(tsv)]
sep = [r for r in rows if r[0].startswith("sep")]
bat = [r for r in rows if r[0] == "batch"][0]
sw, sc = sum(float(r[1]) for r in sep), sum(float(r[2]) for r in sep)
smem = max(int(r[3]) for r in sep) / 1024
bw, bc, bmem = float(bat[1]), float(bat[2]), int(bat[3]) / 1024
out = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%MZ"), "clip": clip,
       "seconds": float(secs), "frames": int(frames), "recipients": int(n), "codec": codec,
       "self_check": verify == "1", "cores": int(cores), "load_at_start": load,
       "separate": {"wall_s": round(sw, 2), "cpu_s": round(sc, 2), "peak_mb_one_run": round(smem)},
       "batch": {"wall_s": round(bw, 2), "cpu_s": round(bc, 2), "peak_mb": round(bmem)},
       "speedup_wall": round(sw / bw, 2), "speedup_cpu": round(sc / bc, 2)}
md = [f"# Screener batch: {n} recipients, one decode against {n} runs",
      "",
      f"bench/batch.sh{' --no-verify' if verify != '1' else ''}, {out['date']}: master = first {secs} s"
      f" of {clip} ({frames} frames), {codec} deliverables, self-check {'on' if verify == '1' else 'off'};"
      f" {cores} cores, 1-min load average when each way started (separate / batch): {load}."
      " Wall-clock times are only comparable when these are alike; CPU seconds are the"
      " robust comparison on a shared machine.",
      "",
      "| way | wall s | CPU s | peak MB |", "| --- | --- | --- | --- |",
      f"| {n} separate wmembed runs | {sw:.1f} | {sc:.1f} | {smem:.0f} (one run) |",
      f"| wmembed --recipients (one decode) | {bw:.1f} | {bc:.1f} | {bmem:.0f} |",
      "",
      f"Batch speed-up: {sw / bw:.2f}x wall, {sc / bc:.2f}x CPU. Every deliverable of both ways was "
      "read back blind by wmdetect and named its own recipient.",
      "",
      "Where one deliverable's CPU goes (decode, encode, self-check) and the batch's peak memory"
      " for batch sizes 1, 4, 8: bench/batch_parts.sh, bench/results/batch_parts.md."]
with open(os.path.join(results, f"batch{suffix}.json"), "w") as f:
    json.dump(out, f, indent=1)
with open(os.path.join(results, f"batch{suffix}.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print("\n".join(md))
PY
