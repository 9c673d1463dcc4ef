#include "recipients.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csv.h>

#include "tool_util.h"

typedef struct Parse {
    FmRecipient *list;
    size_t count, cap;
    char *field[3];
    int nfields;        /* of the current record; > 3 counts as too many */
    long record;        /* 1-based number of the record being read */
    int failed;
    FmError *err;
} Parse;

static void on_field(void *data, size_t len, void *user)
{
    Parse *p = user;
    if (p->failed)
        return;
    if (p->nfields < 3) {
        char *s = malloc(len + 1);
        if (!s) {
            p->failed = fm_error_set(p->err, FM_ENOMEM, "out of memory");
            return;
        }
        memcpy(s, data ? data : "", len);
        s[len] = 0;
        if (strlen(s) != len) {
            free(s);
            p->failed = fm_error_set(p->err, FM_EFORMAT, "recipients record %ld: a field holds a "
                                     "NUL byte", p->record);
            return;
        }
        p->field[p->nfields] = s;
    }
    p->nfields++;
}

static void clear_fields(Parse *p)
{
    for (int i = 0; i < 3; i++) {
        free(p->field[i]);
        p->field[i] = NULL;
    }
    p->nfields = 0;
}

static int is_header(Parse *p)
{
    return p->record == 1 && p->nfields == 3 && !strcasecmp(p->field[0], "id") &&
           !strcasecmp(p->field[1], "name") && !strcasecmp(p->field[2], "output");
}

static void on_record(int term, void *user)
{
    Parse *p = user;
    (void)term;
    if (p->failed) {
        clear_fields(p);
        return;
    }
    /* a blank line is one empty field */
    if (p->nfields == 1 && !p->field[0][0]) {
        clear_fields(p);
        return;
    }
    if (p->nfields != 3) {
        p->failed = fm_error_set(p->err, FM_EFORMAT, "recipients record %ld: %d field%s, "
                                 "expected 3 (id,name,output)", p->record, p->nfields,
                                 p->nfields == 1 ? "" : "s");
    } else if (is_header(p)) {
        /* skipped */
    } else {
        uint32_t id;
        if (fm_parse_u32(p->field[0], &id) < 0) {
            p->failed = fm_error_set(p->err, FM_EFORMAT, "recipients record %ld: id '%.40s' is "
                                     "not a number in 0..4294967295", p->record, p->field[0]);
        } else if (!p->field[2][0]) {
            p->failed = fm_error_set(p->err, FM_EFORMAT, "recipients record %ld: no output path",
                                     p->record);
        } else if (p->count >= FM_RECIPIENTS_MAX) {
            p->failed = fm_error_set(p->err, FM_EFORMAT, "more than %d recipients in one list",
                                     FM_RECIPIENTS_MAX);
        } else {
            for (size_t i = 0; i < p->count && !p->failed; i++) {
                if (p->list[i].id == id)
                    p->failed = fm_error_set(p->err, FM_EFORMAT, "recipients record %ld: id %u "
                                             "appears twice", p->record, (unsigned)id);
                else if (!strcmp(p->list[i].output, p->field[2]))
                    p->failed = fm_error_set(p->err, FM_EFORMAT, "recipients record %ld: output "
                                             "'%.200s' appears twice", p->record, p->field[2]);
            }
            if (!p->failed && p->count == p->cap) {
                size_t cap = p->cap ? 2 * p->cap : 16;
                FmRecipient *l = realloc(p->list, cap * sizeof(*l));
                if (!l)
                    p->failed = fm_error_set(p->err, FM_ENOMEM, "out of memory");
                else
                    p->list = l, p->cap = cap;
            }
            if (!p->failed) {
                p->list[p->count++] = (FmRecipient){ id, p->field[1], p->field[2] };
                p->field[1] = p->field[2] = NULL;
            }
        }
    }
    p->record++;
    clear_fields(p);
}

void fm_recipients_free(FmRecipient **list, size_t count)
{
    if (!list || !*list)
        return;
    for (size_t i = 0; i < count; i++) {
        free((*list)[i].name);
        free((*list)[i].output);
    }
    free(*list);
    *list = NULL;
}

int fm_recipients_parse(const char *text, size_t len, FmRecipient **list, size_t *count,
                        FmError *err)
{
    struct csv_parser csv;
    Parse p = { .record = 1, .err = err };
    *list = NULL;
    *count = 0;
    if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    if (csv_parse(&csv, text, len, on_field, on_record, &p) != len && !p.failed)
        p.failed = fm_error_set(err, FM_EFORMAT, "recipients record %ld: %s", p.record,
                                csv_strerror(csv_error(&csv)));
    if (!p.failed && csv_fini(&csv, on_field, on_record, &p) != 0 && !p.failed)
        p.failed = fm_error_set(err, FM_EFORMAT, "recipients record %ld: %s", p.record,
                                csv_strerror(csv_error(&csv)));
    csv_free(&csv);
    clear_fields(&p);
    if (!p.failed && p.count == 0)
        p.failed = fm_error_set(err, FM_EFORMAT, "the recipients list is empty");
    if (p.failed) {
        fm_recipients_free(&p.list, p.count);
        return p.failed;
    }
    *list = p.list;
    *count = p.count;
    return 0;
}

int fm_recipients_read(const char *path, FmRecipient **list, size_t *count, FmError *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fm_error_set(err, FM_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fm_error_set(err, FM_EINVAL, "'%s' is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > FM_RECIPIENTS_MAX_BYTES) {
        close(fd);
        return fm_error_set(err, FM_EINVAL, "'%s' is larger than %u MiB: not a recipients list?",
                            path, FM_RECIPIENTS_MAX_BYTES >> 20);
    }
    size_t len = (size_t)st.st_size, off = 0;
    char *text = malloc(len + 1);
    if (!text) {
        close(fd);
        return fm_error_set(err, FM_ENOMEM, "out of memory");
    }
    while (off < len) {
        ssize_t n = read(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    int ret = fm_recipients_parse(text, off, list, count, err);
    free(text);
    return ret;
}
