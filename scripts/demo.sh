#!/usr/bin/env bash
# The main job on the bundled sample: install, build, make keys, embed, detect.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
out=${DEMO_DIR:-$(mktemp -d /tmp/filmmark-demo.XXXXXX)}
mkdir -p "$out"
set -x
build/wmkeygen -o "$out/studio" --no-passphrase --force
build/wmembed -k "$out/studio.key" -i samples/sample.mkv -o "$out/deliverable.webm" \
  --title-id 1234 --recipient-id 42 --owner "Demo Studio" --title "Sample" --recipient "Festival screener" --force
build/wmdetect -k "$out/studio.dkey" "$out/deliverable.webm"
