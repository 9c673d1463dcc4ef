#include "fm_error.h"

#include <stdarg.h>
#include <stdio.h>

int fm_error_set(FmError *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        /* one line, whatever the input quoted in it holds (a CSV field or a
         * JSON parser's "near" text may carry newlines and other control
         * bytes): the tools print it after "tool: " as their whole error */
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
    }
    return code;
}
