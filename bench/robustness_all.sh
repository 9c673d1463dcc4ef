#!/usr/bin/env bash
# The robustness runs whose tables the README summarises: every attack on
# dune_1080p24, then a subset on each of the other real clips of
# ../shared/media/get.sh (about 45 minutes on 2 cores, most of it the neural
# upscaler and the slow filters). Options (e.g. --jobs) go to every run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
subset="none,h264_crf23,h264_crf28,h264_crf35,crop10,crop_odd,scale_half,scale_third,hflip,fps30,nlmeans,ai_sr2"
bash "$here/robustness.sh" "$@" dune_1080p24
bash "$here/robustness.sh" "$@" --only none,to8bit,h264_crf28,scale_third,crop10 dune_1080p24_prores422hq.mov
bash "$here/robustness.sh" "$@" --only "$subset" storm_720p25 vtest_768x576
bash "$here/robustness.sh" "$@" --only none,h264_crf28,crop10,scale_third raindrops_1080p24
bash "$here/robustness.sh" "$@" --only none,h264_crf28,crop10 elephants_2160p24
