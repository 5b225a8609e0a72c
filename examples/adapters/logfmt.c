/* logfmt.c - logfmt lines (key=value, values quoted when needed). */
#include "logfmt.h"

#include <string.h>
#include <time.h>

static const char *level_name(enum ms_log_level l)
{
	switch (l) {
	case MS_LOG_ERROR: return "error";
	case MS_LOG_WARNING: return "warning";
	case MS_LOG_INFO: return "info";
	case MS_LOG_DEBUG: return "debug";
	}
	return "unknown";
}

/* Write a value bare if it is a plain token, quoted and escaped otherwise. */
static void put_value(FILE *f, const char *v)
{
	if (v == NULL) {
		fputs("\"\"", f);
		return;
	}
	int bare = *v != '\0';
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			bare = 0;
	if (bare) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void ms_logfmt_log(void *logfmt, enum ms_log_level level, const char *subsystem,
		   const char *msg, const struct ms_kv *kv, size_t nkv)
{
	struct ms_logfmt *lf = logfmt;
	if (lf == NULL || lf->out == NULL)
		return;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

	flockfile(lf->out);
	fprintf(lf->out, "ts=%s level=%s subsystem=", ts, level_name(level));
	put_value(lf->out, subsystem);
	fputs(" msg=", lf->out);
	put_value(lf->out, msg);
	for (size_t i = 0; i < nkv; i++) {
		fprintf(lf->out, " %s=", kv[i].key);
		put_value(lf->out, kv[i].value);
	}
	fputc('\n', lf->out);
	funlockfile(lf->out);
}
