# plain_args CODEC WIDTH: ffmpeg's encoder options equal to wmembed's
# (common/video_writer.c), for the benchmarks that set plain ffmpeg beside it.
plain_args() {
  case "$1" in
    vp9) local n=0; while (( n < 6 && ($2 >> (n + 1)) >= 256 )); do n=$((n + 1)); done
         echo "-c:v libvpx-vp9 -crf 24 -b:v 0 -deadline good -cpu-used 4 -row-mt 1 -tile-columns $n" ;;
    h264) echo "-c:v libx264 -crf 18 -preset medium" ;;
    ffv1) echo "-c:v ffv1 -level 3 -slicecrc 1 -g 1" ;;
  esac
}
