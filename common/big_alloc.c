#include "big_alloc.h"

#include <sodium.h>
#include <sys/mman.h>

void *fm_big_alloc(size_t bytes)
{
    if (!bytes)
        return NULL;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

void fm_big_free(void *p, size_t bytes, int wipe)
{
    if (!p)
        return;
    if (wipe)
        sodium_memzero(p, bytes);
    munmap(p, bytes);
}
