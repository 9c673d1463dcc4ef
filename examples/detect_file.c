/*
 * detect_file - the smallest program over the public API (include/filmmark.h,
 * libfilmmark.so): finds a filmmark watermark in a file with one key file or
 * a directory of keys and prints what it reads.
 *
 *     detect_file KEY.dkey|KEYDIR CLIP
 *
 * Exit status: 0 a verified mark; 1 none; 3 a mark whose payload does not
 * verify; 2 error.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "filmmark.h"

static void skipped(void *ctx, const char *path, const char *reason)
{
    (void)ctx;
    (void)path;
    fprintf(stderr, "detect_file: skipped key: %s\n", reason);
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: detect_file KEY.dkey|KEYDIR CLIP\n"
               "Finds a filmmark watermark in CLIP with the key file or every key of\n"
               "the directory (the public API, include/filmmark.h).\n"
               "exit status: 0 verified; 1 no mark; 3 a mark, payload not verified; 2 error\n");
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "detect_file: give a key file or directory and a clip (see --help)\n");
        return 2;
    }
    if (filmmark_api_version() != FM_API_VERSION) {
        fprintf(stderr, "detect_file: libfilmmark has API %d, this program was built for %d\n",
                filmmark_api_version(), FM_API_VERSION);
        return 2;
    }
    FilmmarkError err;
    FilmmarkKeys *keys = NULL;
    FilmmarkResult res;
    struct stat st;
    int dir = stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode);
    if (filmmark_keys_new(&keys, &err) < 0 ||
        (dir ? filmmark_keys_add_dir(keys, argv[1], skipped, NULL, &err)
             : filmmark_keys_add_file(keys, argv[1], &err)) < 0 ||
        filmmark_detect_file(keys, argv[2], NULL, &res, &err) < 0) {
        fprintf(stderr, "detect_file: %s\n", err.message);
        filmmark_keys_free(&keys);
        return 2;
    }
    filmmark_keys_free(&keys);
    if (res.verified)
        printf("%s: verified: title %u, recipient %u, issued %s, AI use %s (mark format %d)\n",
               argv[2], res.title_id, res.recipient_id, res.issued, res.ai_use_name,
               res.mark_format);
    if (res.pair_verified)
        printf("  also signed: title %u, recipient %u, issued %s: two recipients' copies "
               "averaged\n", res.pair_title_id, res.pair_recipient_id, res.pair_issued);
    else if (res.averaged_pair)
        printf("  read as one of two copies averaged; the other's message does not verify\n");
    if (!res.verified)
        printf("%s: %s\n", argv[2], res.found ? "a mark, payload not verified" : "no mark");
    char hyp[32];  /* the count, or its power of ten past what an int64 holds exactly */
    if (res.hypotheses_log10 > 15)
        snprintf(hyp, sizeof hyp, "10^%.1f", res.hypotheses_log10);
    else
        snprintf(hyp, sizeof hyp, "%lld", (long long)res.hypotheses);
    printf("  false alarm: p = %.3g (10^%.1f; %s hypotheses, %d key%s; key %s)\n",
           res.false_alarm_probability, res.false_alarm_log10, hyp, res.keys_tried,
           res.keys_tried == 1 ? "" : "s", res.key_fingerprint);
    printf("  geometry:    scale %.3f x %.3f, offset (%.1f, %.1f), rotation %.1f deg%s\n",
           res.geometry.scale_x, res.geometry.scale_y, res.geometry.offset_x,
           res.geometry.offset_y, res.geometry.rotation_deg,
           res.geometry.perspective ? " (perspective: at the clip's centre)" : "");
    printf("  read:        %ld frames, %.2f s to %.2f s\n", res.frames_read, res.span[0],
           res.span[1]);
    return res.verified ? 0 : res.found ? 3 : 1;
}
