#!/usr/bin/env bash
# Install the neural-upscaler dependencies (models + runtimes) into
# bench/ai/node_modules from the npm registry.  Idempotent: does nothing when
# node_modules already matches package-lock.json.  Nothing is downloaded at
# run time; install scripts are disabled (.npmrc ignore-scripts=true), which
# keeps onnxruntime-node from trying to fetch optional CUDA binaries: its CPU
# library ships inside the npm tarball.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

command -v node >/dev/null || { echo "setup.sh: node (>= 18) is required (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup.sh: npm is required (apt-get install npm)" >&2; exit 1; }

stamp=node_modules/.filmmark-setup-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) $(node -v)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && node -e "
  require.resolve('onnxruntime-node'); require.resolve('pngjs');
  require('fs').statSync('node_modules/@upscalerjs/esrgan-slim/models/x2/model.json');" 2>/dev/null; then
  echo "bench/ai: dependencies already installed"
  exit 0
fi

export ONNXRUNTIME_NODE_INSTALL=skip   # belt and braces, should a script ever run
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"

# Smoke test: the converted ONNX graph must agree with the tfjs reference.
node upscale.mjs --selftest --model slim --scale 2
echo "bench/ai: ready"
