#!/usr/bin/env bash
# Makes the bad-media corpus in DIR (issue 11): damaged, odd and hostile
# inputs for wmembed and wmdetect. Everything is generated with the ffmpeg
# CLI and coreutils in a few seconds; nothing is downloaded or committed.
# tests/test_bad_media.c runs both tools over every file and checks the
# outcome listed in tests/bad_media/expect.txt.
#
#   tests/bad_media/make.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: make.sh DIR" >&2; exit 2; }
d=$1
mkdir -p "$d"
cd "$d"
ff() { timeout 120 ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
src="-f lavfi -i testsrc2=s=160x120:r=24:d=3"
snd="-f lavfi -i sine=d=3"
cut() { head -c $(( $(stat -c %s "$1") * $2 / 100 )) "$1" > "$3"; }

# healthy sources, then copies truncated at 50 % and 90 %
ff $src $snd -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac full.mkv
ff $src $snd -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -c:a libopus full.webm
ff $src -c:v libx264 -preset ultrafast -movflags +faststart full_faststart.mp4
ff $src -c:v libx264 -preset ultrafast full_moovend.mp4
for p in 50 90; do
  cut full.mkv $p cut$p.mkv
  cut full.webm $p cut$p.webm
  cut full_faststart.mp4 $p cut${p}_faststart.mp4
  cut full_moovend.mp4 $p cut${p}_moovend.mp4
done
rm -f full.webm full_faststart.mp4 full_moovend.mp4

# garbage: random bytes, an empty file, garbage after a valid header, a text file
head -c 65536 /dev/urandom > garbage.mkv
: > empty.mp4
{ head -c 4096 full.mkv; head -c 65536 /dev/urandom; } > header_then_garbage.mkv
printf 'This is not a video.\n' > notes.mp4

# a container with no frames at all
ff $src -frames:v 0 -c:v ffv1 zero_frames.mkv

# y4m headers edited: absurd, zero, above the pixel budget, absurd aspect
ff -f lavfi -i testsrc2=s=64x48:r=10:d=1 -pix_fmt yuv420p ok.y4m
sed '1s/W64 H48/W99999 H99999/' ok.y4m > huge_declared.y4m
sed '1s/W64 H48/W0 H48/' ok.y4m > zero_width.y4m
sed '1s/W64 H48/W8192 H8192/' ok.y4m > over_budget.y4m
rm -f ok.y4m
ff -f lavfi -i testsrc2=s=16384x16:r=10:d=1 -c:v ffv1 wide_16384x16.mkv

# odd sizes, variable frame rate, a resolution change mid-stream
ff -f lavfi -i testsrc2=s=161x121:r=24:d=1 -c:v ffv1 -pix_fmt yuv422p10le odd_161x121.mkv
ff -f lavfi -i testsrc2=s=160x120:r=25:d=2 -vf "setpts=PTS+gt(N\,10)*0.4/TB" \
   -fps_mode passthrough -c:v libx264 -preset ultrafast vfr.mkv
ff -f lavfi -i testsrc2=s=160x120:r=25:d=0.4 -c:v libx264 -preset ultrafast -pix_fmt yuv420p a.h264
ff -f lavfi -i testsrc2=s=176x144:r=25:d=0.4 -c:v libx264 -preset ultrafast -pix_fmt yuv420p b.h264
cat a.h264 b.h264 > res_change.h264
rm -f a.h264 b.h264

# no picture, or only one
ff -f lavfi -i sine=d=1 audio_only.wav
ff -f lavfi -i sine=d=1 -c:a libopus audio_only.mkv
ff -f lavfi -i testsrc2=s=160x120:r=1:d=1 -frames:v 1 still.png

mv full.mkv healthy_master.mkv
# the FIFO is made by the test itself (fifo.mkv), with a writer behind it
