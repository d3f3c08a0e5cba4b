/*
 * A growable byte buffer.  Its owner is always a userdata (an HTTP handle or
 * a codec scratch box), so a Lua error that unwinds past the code using it
 * cannot leak the memory: the owner's __gc frees it.
 */
#ifndef VOUCHERIFY_BUFFER_H
#define VOUCHERIFY_BUFFER_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} vbuf;

static inline void vbuf_init(vbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static inline void vbuf_free(vbuf *b)
{
    free(b->data);
    vbuf_init(b);
}

/* Makes room for `extra` more bytes.  Returns 0 when out of memory. */
static inline int vbuf_reserve(vbuf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (extra <= b->cap - b->len)
        return 1;
    if (extra > (size_t)-1 - b->len)
        return 0;
    need = b->len + extra;
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > (size_t)-1 / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL)
        return 0;
    b->data = p;
    b->cap = cap;
    return 1;
}

static inline int vbuf_append(vbuf *b, const void *src, size_t n)
{
    if (n == 0)
        return 1; /* memcpy with a NULL pointer is undefined even for 0 bytes */
    if (!vbuf_reserve(b, n))
        return 0;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 1;
}

static inline int vbuf_putc(vbuf *b, char c)
{
    if (b->len == b->cap && !vbuf_reserve(b, 1))
        return 0;
    b->data[b->len++] = c;
    return 1;
}

#endif
