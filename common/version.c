#include "version.h"

void fm_print_version(FILE *out, const char *tool, int json)
{
    if (json)
        fprintf(out, "{\"tool\": \"%s\", \"version\": \"%s\", \"mark_format\": %d, "
                "\"receipt_format\": \"%s\"}\n", tool, FM_VERSION, FM_MARK_FORMAT,
                FM_RECEIPT_FORMAT_NAME);
    else
        fprintf(out, "%s (filmmark) %s, mark format %d, receipt format %s\n", tool, FM_VERSION,
                FM_MARK_FORMAT, FM_RECEIPT_FORMAT_NAME);
}
