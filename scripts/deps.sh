#!/usr/bin/env bash
# Installs the Debian 12 packages filmmark needs to build, test and run its demo
# (clang and its sanitizer/libFuzzer runtime, a Recommends only, for scripts/fuzz.sh).
# Idempotent; uses sudo when not root. Set FILMMARK_SKIP_APT=1 to skip.
set -euo pipefail
[ "${FILMMARK_SKIP_APT:-0}" = 1 ] && exit 0
pkgs=(build-essential cmake pkg-config
      libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev
      libvpx-dev libsodium-dev libjansson-dev libfftw3-dev libcsv-dev libcriterion-dev
      libsqlite3-dev libpq-dev postgresql
      ffmpeg mandoc python3 python3-numpy time clang libclang-rt-14-dev
      chromium fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
