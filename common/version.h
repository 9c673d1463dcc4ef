/*
 * version.h - the project version (CMakeLists.txt) and the formats this
 * build writes, for every tool's --version and JSON.
 */
#ifndef FM_VERSION_H
#define FM_VERSION_H

#include <stdio.h>

#ifndef FM_VERSION
#define FM_VERSION "unknown"
#endif
#define FM_MARK_FORMAT 7
#define FM_RECEIPT_FORMAT_NAME "filmmark-receipt-2"

/* "TOOL (filmmark) VERSION, mark format 7, receipt format filmmark-receipt-2",
 * or the same as a JSON object when json is set. */
void fm_print_version(FILE *out, const char *tool, int json);

#endif
