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
  --title-id 1234 --recipient-id 42 --owner "Demo Studio" --title "Sample" --recipient "Festival screener" \
  --registry "$out/registry.sqlite" --force
build/wmdetect -k "$out/studio.dkey" --registry "$out/registry.sqlite" "$out/deliverable.webm"
build/wmverify -p "$out/studio.pub" "$out/deliverable.webm.receipt.json" --file "$out/deliverable.webm"
