#!/usr/bin/env bash
# The screener workflow end to end on the bundled sample (issue 9): a key,
# one decode for four recipients, a leak of one copy re-encoded and named
# from the registry, two and three copies averaged (collusion) and their
# recipients named, an evidence report. Prints each command ("$ ...") and
# its real output; README "The screener workflow" quotes a run of it.
#
#   scripts/demo_screeners.sh [DIR]    (default: a new /tmp/filmmark-screeners.*)
#
# Uses the tools in $FILMMARK_BIN (default build/); ffmpeg makes the leaks.
# Everything (key, registry, deliverables, leaks, report) stays in DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${FILMMARK_BIN:-$root/build}"
case "${1:-}" in -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
for t in wmkeygen wmembed wmdetect wmregistry; do
  [[ -x "$BIN/$t" ]] || { echo "demo_screeners.sh: $BIN/$t missing: run bash scripts/build.sh" >&2; exit 2; }
done
out="${1:-$(mktemp -d /tmp/filmmark-screeners.XXXXXX)}"
mkdir -p "$out"
cp "$root/samples/sample.mkv" "$out/master.mkv"
cd "$out"
export PATH="$BIN:$PATH"
# this demo's issuances go to its own registry, never the user's
export FILMMARK_REGISTRY="$out/screeners.sqlite"
rm -f "$FILMMARK_REGISTRY"

# run CMD...: prints "$ CMD" (arguments with spaces or quotes quoted) and
# its output (stdout and stderr), then the exit status when it is not 0;
# never stops the demo
run() {
  local a line='$'
  for a in "$@"; do
    if [[ "$a" =~ [[:space:]\"\'\$\;\&\|\(\)] ]]; then line+=" \"${a//\"/\\\"}\""; else line+=" $a"; fi
  done
  printf '%s\n' "$line"
  local rc=0
  "$@" </dev/null 2>&1 || rc=$?
  [[ $rc == 0 ]] || echo "(exit status $rc)"
  echo
}

echo "# in $out; FILMMARK_REGISTRY=screeners.sqlite (the tools' registry)"
echo
run wmkeygen --no-passphrase -o studio --label "Demo Studio 2026"

cat >juries.csv <<'EOF'
id,name,output
101,"Berlinale jury, seat 1",berlinale-1.mp4
102,"Berlinale jury, seat 2",berlinale-2.mp4
103,Cannes market buyer,cannes-buyer.mp4
104,Critic (trade press),critic.mp4
EOF
run cat juries.csv
run wmembed -k studio.key -i master.mkv --recipients juries.csv --title-id 1234 \
  --title "Sample" --owner "Demo Studio" --codec h264 --issued 2026-12-01T09:00Z
run wmregistry list --title-id 1234

echo "# a leak: seat 2's copy, 3 s from 4 s in, scaled to 640x480, H.264 CRF 30"
run ffmpeg -v error -y -ss 4 -t 3 -i berlinale-2.mp4 -vf scale=640:480 -c:v libx264 -crf 30 leak.mp4
run wmdetect -k studio.dkey leak.mp4

echo "# collusion: seats 1 and 2 average their copies frame by frame (then H.264 CRF 23)"
run ffmpeg -v error -y -i berlinale-1.mp4 -i berlinale-2.mp4 -filter_complex mix=inputs=2 \
  -c:v libx264 -crf 23 avg2.mp4
run wmdetect -k studio.dkey --no-registry avg2.mp4
run wmdetect -k studio.dkey avg2.mp4

echo "# three copies averaged: seat 1, the buyer and the critic"
run ffmpeg -v error -y -i berlinale-1.mp4 -i cannes-buyer.mp4 -i critic.mp4 -filter_complex mix=inputs=3 \
  -c:v libx264 -crf 23 avg3.mp4
run wmdetect -k studio.dkey --json -q avg3.mp4

echo "# the evidence report for the leak: one self-contained HTML file"
run wmdetect -k studio.dkey -q --report leak-report.html leak.mp4
run ls -l leak-report.html
