/*
 * report.h - the evidence report: one self-contained HTML file (inline CSS,
 * inline SVG plot, thumbnails as data: URIs, no script, nothing fetched) that
 * states what was analysed, how, and what was found, in words a rights
 * holder can hand to counsel.
 *
 * Every string from outside (file names, the command line, receipt and
 * recipient names, the registry's text) goes through fm_html_escape().
 *
 * Named recipients and their receipts come from the registry of issued marks
 * (issue 9, sections 1, 3 and 4). Until a caller passes them in
 * (registry_consulted and the recipient array of FmReportInput), the report
 * says that no registry was consulted.
 */
#ifndef FM_REPORT_H
#define FM_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "detector.h"
#include "fingerprint.h"
#include "fm_error.h"
#include "place.h"
#include "thumbnail.h"
#include "video_io.h"

/* Thumbnails of the strongest stretches, and their width in pixels. */
#define FM_REPORT_THUMBS 4
#define FM_REPORT_THUMB_WIDTH 200
/* JPEG qscale of the thumbnails (2 best .. 31): about 4-6 KB each at 200 px. */
#define FM_REPORT_THUMB_QUALITY 6

/* One recipient a registry names (informed detection, collusion). */
typedef struct FmReportRecipient {
    const char *recipient_id;   /* as the registry writes it */
    const char *name;           /* may be NULL */
    const char *identified_by;  /* "blind" or "registry" */
    double z;                   /* its own correlation z (NAN: not given) */
    double false_alarm_log10;   /* corrected for the entries tested */
    const char *issued;         /* ISO 8601 issue time, may be NULL */
    const char *output_sha256;  /* of the deliverable issued to it, may be NULL */
    const char *receipt;        /* the receipt's text or where it is kept, may be NULL */
} FmReportRecipient;

typedef enum FmReportNamed {
    FM_REPORT_NAMED_NONE = 0,       /* none named without a blind decode */
    FM_REPORT_NAMED = 1,            /* named, the pictures not contradicted */
    FM_REPORT_NAMED_UNCONFIRMED = 2,    /* the fingerprint matches only elsewhere
                                         * in the title than the mark's epochs say */
    FM_REPORT_NAMED_UNBOUND = 3,    /* the issuance's fingerprint or tag
                                     * contradicts the pictures */
} FmReportNamed;

typedef struct FmReportInput {
    /* what was analysed */
    const char *clip_path;
    const char *clip_sha256;        /* 64 hex; NULL: fm_report_make computes it */
    long long clip_bytes;           /* < 0: fm_report_make takes it from the file */
    const FmVideoInfo *info;        /* the reader's, of the clip */
    double start, duration;         /* --start / --duration (0: not given) */
    double read_limit;              /* > 0: the default read limit ended the read
                                     * after that many seconds of the clip */
    /* how */
    const char *tool_version;
    int argc;                       /* the command line, each word escaped */
    char *const *argv;
    time_t analysed_at;             /* written as UTC */
    int keys_tried;
    /* what was found */
    const FmDetectResult *result;
    const char *key_fingerprint;    /* of the key the result is for */
    const FmStrengthTrace *trace;   /* strength over time, may be NULL */
    const char *receipt_path;       /* --receipt, or NULL */
    const FmFpMatch *content;       /* the content match, or NULL: not checked */
    int content_elsewhere;          /* it matched another part of the title than the
                                     * mark's place, content_mark_at master seconds */
    double content_mark_at;
    int content_from_registry;      /* the fingerprint compared is the registry row's
                                     * (else the receipt's) */
    const FmPicturePlace *content_place; /* the content matched the issued picture at
                                     * this place (place.h: inside the frame, or a crop
                                     * of it), or NULL */
    int content_places;             /* the places tried for it */
    int content_crop;               /* a crop of bound pictures explains a content
                                     * fingerprint that does not align
                                     * (fm_detect_crop_explains) */
    int receipt_match;              /* the verified decode is a receipt's message */
    double receipt_z;               /* the best issued message's score (NAN: none) */
    double receipt_log10_p;         /* its corrected false-alarm probability */
    /* thumbnails (fm_report_make fills them when nthumbs is 0) */
    const FmThumbnail *thumbs;
    const double *thumb_z;          /* the strength at each thumbnail, may be NULL */
    int nthumbs;
    /* the registry of issued marks, or the receipts given */
    int registry_consulted;
    const char *registry;           /* which one (path or URL without password) */
    const FmReportRecipient *recipients;
    int nrecipients;
    /* recipients named from the issued messages without a blind decode
     * (wmdetect's status named, named_unconfirmed, named_unbound) */
    FmReportNamed named;
} FmReportInput;

/* Writes s to f HTML-escaped for text and quoted attribute values: & < > " '
 * as entities, control characters and invalid UTF-8 as U+FFFD. NULL: "". */
void fm_html_escape(FILE *f, const char *s);

/* The times (seconds) of up to max strongest points of the trace, at least
 * min_gap apart, in time order, and their z (z may be NULL). Returns how
 * many. */
int fm_report_pick_times(const FmStrengthTrace *trace, int max, double min_gap, double *times,
                         double *z);

/* The pilot z at which the corrected false-alarm probability reaches p for
 * the given number of hypotheses (the detection threshold, for the plot). */
double fm_report_z_for(double p, double hypotheses);

/* Writes the report's HTML to f (nothing is read: thumbnails as given). */
int fm_report_write(FILE *f, const FmReportInput *in, FmError *err);

/*
 * Completes what in lacks (the clip's SHA-256 and size; thumbnails of the
 * FM_REPORT_THUMBS strongest stretches, decoded again from the clip) and
 * writes the report to path atomically (mode 0644 less the umask).
 */
int fm_report_make(const char *path, const FmReportInput *in, FmError *err);

#endif
