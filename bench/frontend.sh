#!/usr/bin/env bash
# Detector front-end harness (issue #8): raw bit error rate, pilot z and
# verification of the hard copies of a few marked real clips.
#
#   bench/frontend.sh [--prepare-only] [--no-wmdetect] [--label TEXT] [--clips "a b"]
#                     [--copies "x y"] [--strength S] [--keys-from DIR] [--issued TIME]
#                     [--rows H] [--no-fill]
#   bench/frontend.sh --null [--label TEXT]
#
# --null: the false-alarm side. wmdetect --json on unmarked segments of the
# real footage (the sources themselves, read with --start/--duration) with
# each prepared clip's key; prints label, source, start, duration, key,
# found, signature_valid, pilot_z a line (appended to $WORK/null.tsv) and the
# largest z.
#
# Once (cached in $WORK, default bench/work/frontend): every clip's first 10 s
# is taken to 720p (vtest stays 768x576; --rows H: every clip to H rows, the
# width even and of the clip's aspect) as an FFV1 master, marked with
# wmembed (default strength, VP9 deliverable, a throwaway key), and the
# deliverable is turned into the hard copies below (--copies: also
# h264_crfN, hevc_crfN, vp9_crfN for any N, and pH: scaled to H rows, the
# width even and of the clip's aspect, then x264 CRF 23 veryfast). Every run then only
# detects: each copy is decoded by ffmpeg to raw yuv420p and read by
# build/frontend_ber (bench/frontend_ber.c: the library's accumulator and
# detector, blind, then the raw BER against the receipt's message), and by
# `wmdetect --json` (the shipped tool: verified or not, its pilot z).
# --strength S marks at wmembed --strength S (default 1.0); --keys-from DIR
# marks each clip with the key of DIR/CLIP/ (another WORK of this script), so
# two WORKs differ only in what is compared, not in the key; --issued TIME
# (wmembed --issued) signs that issue time, so that their messages are the
# same too (else each marking signs its own minute, and single copies' raw
# errors move by a few points between two markings for that alone).
# --no-fill marks with wmembed --no-fill (0.9.14's marks: no frame above the
# strength's amplitude), for an A/B of the fill against the default.
# Prints one TSV line per copy: label clip copy raw_ber pilot_z verified
# wmdetect_verified wmdetect_z, and appends them to $WORK/runs.tsv.
#
# Environment: FILMMARK_BIN (default build/), FILMMARK_MEDIA (default
# ~/.cache/filmmark-media), WORK. Needs ffmpeg, python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
BIN="${FILMMARK_BIN:-$root/build}"
MEDIA="${FILMMARK_MEDIA:-$HOME/.cache/filmmark-media}"
WORK="${WORK:-$root/bench/work/frontend}"
export FILMMARK_REGISTRY="$WORK/registry.sqlite"

CLIPS="storm dune raindrops vtest"
COPIES="h264_crf30 h264_crf35 hevc_crf32 vp9_crf40 gblur1 gblur2 p360 p240"
prepare_only=0 label="run" wmd=1 null=0 strength=1.0 keys_from="" issued=() rows="" fill=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prepare-only) prepare_only=1 ;;
    --no-wmdetect) wmd=0 ;;
    --null) null=1 ;;
    --label) label="$2"; shift ;;
    --clips) CLIPS="$2"; shift ;;
    --copies) COPIES="$2"; shift ;;
    --strength) strength="$2"; shift ;;
    --keys-from) keys_from="$2"; shift ;;
    --issued) issued=(--issued "$2"); shift ;;
    --rows) rows="$2"; shift ;;
    --no-fill) fill=(--no-fill) ;;
    -h|--help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "frontend.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

ff() { nice ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
mkdir -p "$WORK"

source_of() {
  case "$1" in
    storm) echo "$MEDIA/storm_720p25.mkv" ;;
    dune) echo "$MEDIA/dune_1080p24.mkv" ;;
    raindrops) echo "$MEDIA/raindrops_1080p24.mkv" ;;
    elephants) echo "$MEDIA/elephants_2160p24.mkv" ;;
    vtest) echo "$MEDIA/vtest_768x576.mkv" ;;
    *) echo "frontend.sh: unknown clip $1" >&2; exit 2 ;;
  esac
}

prepare_clip() {
  local c="$1" d="$WORK/$1"
  mkdir -p "$d"
  if [[ ! -s "$d/master.mkv" ]]; then
    local vf="scale=-2:720:flags=lanczos"
    [[ $c == vtest || $c == storm ]] && vf="null"
    [[ -n $rows ]] && vf="scale=-2:$rows:flags=lanczos"
    say "$c: master"
    ff -i "$(source_of "$c")" -t 10 -map 0:v:0 -an -vf "$vf,format=yuv420p" -c:v ffv1 "$d/master.mkv.tmp.mkv"
    mv "$d/master.mkv.tmp.mkv" "$d/master.mkv"
  fi
  if [[ ! -s "$d/deliv.webm" ]]; then
    say "$c: wmembed"
    rm -f "$d/key.key" "$d/key.dkey" "$d/key.pub"
    if [[ -n $keys_from ]]; then
      [[ -s $keys_from/$c/key.key ]] || { echo "frontend.sh: no key in $keys_from/$c" >&2; exit 2; }
      cp -p "$keys_from/$c/key.key" "$keys_from/$c/key.dkey" "$keys_from/$c/key.pub" "$d/"
    else
      "$BIN/wmkeygen" -o "$d/key" --no-passphrase >/dev/null
    fi
    nice "$BIN/wmembed" -k "$d/key.key" -i "$d/master.mkv" -o "$d/deliv.webm" --title-id 4242 \
      --recipient-id 1001 --no-registry --strength "$strength" "${issued[@]}" "${fill[@]}" --json --quiet --force \
      >"$d/embed.json"
  fi
}

make_copy() {
  local c="$1" id="$2" d="$WORK/$1" out="$WORK/$1/$2.mkv"
  [[ -s "$out" ]] && return 0
  local in="$d/deliv.webm" x264="-c:v libx264 -crf 23 -preset veryfast"
  local h360="scale=640:360" h240="scale=426:240"
  [[ $c == vtest ]] && h360="scale=480:360" h240="scale=320:240"
  say "$c: $id"
  case "$id" in
    h264_crf*) ff -i "$in" -map 0:v:0 -c:v libx264 -crf "${id#h264_crf}" -preset medium "$out.tmp.mkv" ;;
    hevc_crf*) ff -i "$in" -map 0:v:0 -c:v libx265 -crf "${id#hevc_crf}" -preset fast -x265-params log-level=error "$out.tmp.mkv" ;;
    vp9_crf*) ff -i "$in" -map 0:v:0 -c:v libvpx-vp9 -crf "${id#vp9_crf}" -b:v 0 -deadline good -cpu-used 4 -row-mt 1 "$out.tmp.mkv" ;;
    gblur1) ff -i "$in" -map 0:v:0 -vf gblur=sigma=1 $x264 "$out.tmp.mkv" ;;
    gblur2) ff -i "$in" -map 0:v:0 -vf gblur=sigma=2 $x264 "$out.tmp.mkv" ;;
    p360) ff -i "$in" -map 0:v:0 -vf "$h360" $x264 "$out.tmp.mkv" ;;
    p240) ff -i "$in" -map 0:v:0 -vf "$h240" $x264 "$out.tmp.mkv" ;;
    p[0-9]*) ff -i "$in" -map 0:v:0 -vf "scale=-2:${id#p}" $x264 "$out.tmp.mkv" ;;  # any other height
    *) echo "frontend.sh: unknown copy $id" >&2; exit 2 ;;
  esac
  mv "$out.tmp.mkv" "$out"
}

if [[ $null == 1 ]]; then
  segs="storm_720p25.mkv:0:10 storm_720p25.mkv:0:5 storm_720p25.mkv:5:5
        dune_1080p24.mkv:0:10 dune_1080p24.mkv:0:5 dune_1080p24.mkv:5:5
        raindrops_1080p24.mkv:0:6 raindrops_1080p24.mkv:0:3 raindrops_1080p24.mkv:3:3
        vtest_768x576.mkv:0:20 vtest_768x576.mkv:0:10 vtest_768x576.mkv:10:10
        vtest_768x576.mkv:5:10 elephants_2160p24.mkv:0:3 dune_1080p24_prores422hq.mov:0:4"
  tmp=$(mktemp -d) n=0
  for seg in $segs; do
    IFS=: read -r src st du <<<"$seg"
    for c in $CLIPS; do
      [[ -s "$WORK/$c/key.dkey" ]] || continue
      while (( $(jobs -rp | wc -l) >= 2 )); do wait -n || true; done
      ( j=$("$BIN/wmdetect" -k "$WORK/$c/key.dkey" --no-registry --threads 1 --json --quiet \
             --start "$st" --duration "$du" "$MEDIA/$src" 2>/dev/null || true)
        python3 -c 'import json,sys
j = json.loads(sys.argv[6])
print("\t".join(sys.argv[1:6] + [str(j["found"]).lower(), str(j["signature_valid"]).lower(),
                                  "%.3f" % j["pilot_z"]]))' "$label" "$src" "$st" "$du" "$c" "$j" \
        >"$tmp/$(printf %03d $n)" ) &
      n=$((n + 1))
    done
  done
  wait
  cat "$tmp"/* | tee -a "$WORK/null.tsv"
  awk -F'\t' '{ n++; if ($6 == "true") f++; if (n == 1 || $8 > m) m = $8 }
    END { printf "# %d unmarked runs, %d found, largest pilot z %.2f\n", n, f, m }' "$tmp"/*
  rm -rf "$tmp"
  exit 0
fi

for c in $CLIPS; do
  prepare_clip "$c"
  for id in $COPIES; do make_copy "$c" "$id"; done
done
[[ $prepare_only == 1 ]] && exit 0

# detection: two copies at a time
detect_one() {
  local c="$1" id="$2" d="$WORK/$1" f="$WORK/$1/$2.mkv"
  local wh fps
  wh=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,r_frame_rate -of csv=p=0 "$f")
  IFS=, read -r w h fps <<<"$wh"
  fps=$(python3 -c "from fractions import Fraction as F; print(float(F('$fps')))")
  local ber
  ber=$(ffmpeg -nostdin -loglevel error -i "$f" -map 0:v:0 -f rawvideo -pix_fmt yuv420p - |
        "$BIN/frontend_ber" "$d/key.dkey" "$d/deliv.webm.receipt.json" "$w" "$h" "$fps" --threads 1)
  local wd=""
  [[ $wmd == 1 ]] && wd=$("$BIN/wmdetect" -k "$d/key.dkey" --no-registry --threads 1 --json --quiet "$f" 2>/dev/null || true)
  python3 - "$label" "$c" "$id" "$ber" "$wd" <<'EOF'
import json, sys
label, c, i, ber, wd = sys.argv[1:6]
b = json.loads(ber)
try:
    w = json.loads(wd); wv = w.get("signature_valid", w.get("verified")); wz = w.get("pilot_z")
except Exception:
    wv, wz = None, None
print("\t".join([label, c, i, "%.4f" % b["raw_ber"], "%.2f" % b["pilot_z"],
                 "yes" if b["verified"] else "no", {True: "yes", False: "no"}.get(wv, "err"),
                 "%.2f" % wz if isinstance(wz, (int, float)) else "-"]) if wd else
      "\t".join([label, c, i, "%.4f" % b["raw_ber"], "%.2f" % b["pilot_z"],
                 "yes" if b["verified"] else "no", "-", "-"]))
EOF
}
tmp=$(mktemp -d)
n=0
for c in $CLIPS; do
  for id in $COPIES; do
    while (( $(jobs -rp | wc -l) >= 2 )); do wait -n || true; done
    ( detect_one "$c" "$id" >"$tmp/$(printf %03d $n)" ) &
    n=$((n + 1))
  done
done
wait
cat "$tmp"/* | tee -a "$WORK/runs.tsv"
python3 - "$tmp" <<'EOF'
import glob, sys
rows = [l.rstrip("\n").split("\t") for f in sorted(glob.glob(sys.argv[1] + "/*")) for l in open(f)]
if rows:
    ber = [float(r[3]) for r in rows]
    wv = sum(r[6] == "yes" for r in rows) if any(r[6] != "-" for r in rows) else "-"
    print("# %s: mean raw BER %.4f over %d copies, %d verified (frontend_ber), %s (wmdetect)"
          % (rows[0][0], sum(ber) / len(ber), len(rows), sum(r[5] == "yes" for r in rows), wv))
EOF
rm -rf "$tmp"
