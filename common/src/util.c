/* util.c - the `why` writer, bounded buffers and ASCII helpers. */
#include "ms_common.h"

#include <stdio.h>
#include <string.h>

ms_status ms_why(char *why, size_t whylen, ms_status status,
		 const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return status;
}

void ms_buf_init(struct ms_buf *b, const struct ms_env *env, size_t max)
{
	b->env = env;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

/* Make room for `extra` more bytes plus the terminating NUL. */
static ms_status buf_reserve(struct ms_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return MS_ERR_LIMIT;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return MS_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	uint8_t *p = ms_realloc(b->env, b->data, cap);
	if (p == NULL)
		return MS_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return MS_OK;
}

ms_status ms_buf_reserve(struct ms_buf *b, size_t extra)
{
	return buf_reserve(b, extra);
}

ms_status ms_buf_append(struct ms_buf *b, const void *p, size_t n)
{
	ms_status st = buf_reserve(b, n);
	if (st != MS_OK)
		return st;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return MS_OK;
}

ms_status ms_buf_putc(struct ms_buf *b, uint8_t c)
{
	return ms_buf_append(b, &c, 1);
}

ms_status ms_buf_printf(struct ms_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MS_ERR_INTERNAL;
	ms_status st = buf_reserve(b, (size_t)n);
	if (st != MS_OK)
		return st;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MS_OK;
}

char *ms_buf_steal(struct ms_buf *b)
{
	if (b->data == NULL && buf_reserve(b, 0) != MS_OK)
		return NULL;
	char *s = (char *)b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void ms_buf_free(struct ms_buf *b)
{
	ms_free(b->env, b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int ms_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ca = ms_ascii_lower((unsigned char)a[i]);
		int cb = ms_ascii_lower((unsigned char)b[i]);
		if (ca != cb)
			return ca - cb;
		if (ca == 0)
			return 0;
	}
	return 0;
}

int ms_ascii_casecmp(const char *a, const char *b)
{
	return ms_ascii_ncasecmp(a, b, SIZE_MAX);
}

const char *ms_strerror(int err, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return "error";
	buf[0] = '\0';
#if defined(_GNU_SOURCE) && defined(__GLIBC__)
	/* GNU strerror_r returns the text, in buf or in static storage. */
	const char *s = strerror_r(err, buf, len);
	return s ? s : buf;
#else
	if (strerror_r(err, buf, len) != 0)
		snprintf(buf, len, "error %d", err);
	return buf;
#endif
}
