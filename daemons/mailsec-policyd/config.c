/* config.c - see config.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/env.h>

void policyd_config_defaults(struct policyd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->unix_mode = 0666;
	snprintf(c->map_name, sizeof(c->map_name), "postfix");
	c->dns_timeout_ms = 5000;
	c->fetch_timeout_ms = 10000;
	c->read_timeout_ms = 10000;
	c->idle_timeout_ms = 300000;
	c->max_connections = 4096;
	c->max_request = 1024;
	c->workers = 8;
	c->answer_cache_ttl = 30;
	c->answer_cache_size = 65536;
	c->refresh = 1;
	c->log_level = MS_LOG_INFO;
	c->metrics_interval = 15;
}

static int set_str(char *dst, size_t dstlen, const char *v, char *why, size_t whylen)
{
	if (strlen(v) >= dstlen) {
		snprintf(why, whylen, "value longer than %zu bytes", dstlen - 1);
		return -1;
	}
	snprintf(dst, dstlen, "%s", v);
	return 0;
}

static int set_uint(unsigned *dst, const char *v, unsigned min, unsigned max, int base,
		    char *why, size_t whylen)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, base);
	if (*v == '\0' || *v == '-' || *end != '\0' || errno || n < min || n > max) {
		snprintf(why, whylen, "'%.40s' is not a number from %u to %u", v, min, max);
		return -1;
	}
	*dst = (unsigned)n;
	return 0;
}

static int set_bool(int *dst, const char *v, char *why, size_t whylen)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*dst = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*dst = 0;
	else {
		snprintf(why, whylen, "'%.40s' is not yes or no", v);
		return -1;
	}
	return 0;
}

int policyd_config_set(struct policyd_config *c, const char *k, const char *v, char *why,
		       size_t whylen)
{
#define STR(name) if (strcmp(k, #name) == 0) return set_str(c->name, sizeof(c->name), v, why, whylen)
#define UINT(name, lo, hi) if (strcmp(k, #name) == 0) return set_uint(&c->name, v, lo, hi, 10, why, whylen)
	STR(listen_unix);
	STR(listen_tcp);
	STR(dns_config);
	STR(cache);
	STR(ca_file);
	STR(connect_to);
	STR(log_file);
	STR(metrics_file);
	UINT(dns_timeout_ms, 100, 600000);
	UINT(fetch_timeout_ms, 100, 600000);
	UINT(read_timeout_ms, 10, 3600000);
	UINT(idle_timeout_ms, 0, 86400000);
	UINT(max_connections, 1, 1000000);
	UINT(max_request, 16, 65536);
	UINT(workers, 1, 256);
	UINT(answer_cache_ttl, 0, 3600);
	UINT(answer_cache_size, 0, 16777216);
	UINT(refresh_interval, 0, 30 * 86400);
	UINT(metrics_interval, 1, 86400);
#undef STR
#undef UINT
	if (strcmp(k, "map_name") == 0) {
		if (*v == '\0' || strpbrk(v, " \t,:") != NULL) {
			snprintf(why, whylen, "map_name must be one word");
			return -1;
		}
		return set_str(c->map_name, sizeof(c->map_name), v, why, whylen);
	}
	if (strcmp(k, "unix_mode") == 0)
		return set_uint(&c->unix_mode, v, 0, 0777, 8, why, whylen);
	if (strcmp(k, "testing_as_enforce") == 0)
		return set_bool(&c->testing_as_enforce, v, why, whylen);
	if (strcmp(k, "refresh") == 0)
		return set_bool(&c->refresh, v, why, whylen);
	if (strcmp(k, "log_format") == 0) {
		if (strcmp(v, "logfmt") == 0)
			c->log_format = LOG_LOGFMT;
		else if (strcmp(v, "text") == 0)
			c->log_format = LOG_TEXT;
		else {
			snprintf(why, whylen, "log_format is logfmt or text");
			return -1;
		}
		return 0;
	}
	if (strcmp(k, "log_level") == 0) {
		static const char *const names[] = {"error", "warning", "info", "debug"};
		for (int i = 0; i < 4; i++)
			if (strcmp(v, names[i]) == 0) {
				c->log_level = i;
				return 0;
			}
		snprintf(why, whylen, "log_level is error, warning, info or debug");
		return -1;
	}
	snprintf(why, whylen, "unknown key '%.60s'", k);
	return -1;
}

static int is_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

int policyd_config_parse(const uint8_t *buf, size_t len, struct policyd_config *c, char *why,
			 size_t whylen)
{
	if (len > POLICYD_CONFIG_MAX) {
		snprintf(why, whylen, "config larger than %d bytes", POLICYD_CONFIG_MAX);
		return -1;
	}
	size_t pos = 0;
	for (unsigned lineno = 1; pos < len; lineno++) {
		size_t end = pos;
		while (end < len && buf[end] != '\n')
			end++;
		size_t a = pos, b = end;
		pos = end + 1;
		if (b - a > 1024) {
			snprintf(why, whylen, "line %u: longer than 1024 bytes", lineno);
			return -1;
		}
		while (a < b && is_space(buf[a]))
			a++;
		while (b > a && is_space(buf[b - 1]))
			b--;
		if (a == b || buf[a] == '#')
			continue;
		char line[1025];
		memcpy(line, buf + a, b - a);
		line[b - a] = '\0';
		if (memchr(line, '\0', b - a) != NULL) {
			snprintf(why, whylen, "line %u: NUL byte", lineno);
			return -1;
		}
		char *eq = strchr(line, '=');
		if (eq == NULL) {
			snprintf(why, whylen, "line %u: expected key = value", lineno);
			return -1;
		}
		char *k = line, *v = eq + 1, *ke = eq;
		while (ke > k && is_space((uint8_t)ke[-1]))
			ke--;
		*ke = '\0';
		while (is_space((uint8_t)*v))
			v++;
		char lwhy[200] = "";
		if (*k == '\0' || policyd_config_set(c, k, v, lwhy, sizeof(lwhy)) != 0) {
			snprintf(why, whylen, "line %u: %s", lineno, *k ? lwhy : "empty key");
			return -1;
		}
	}
	return 0;
}

int policyd_config_load(const char *path, struct policyd_config *c, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	static uint8_t buf[POLICYD_CONFIG_MAX + 1];
	size_t n = fread(buf, 1, sizeof(buf), f);
	int err = ferror(f);
	fclose(f);
	if (err) {
		snprintf(why, whylen, "%s: read error", path);
		return -1;
	}
	char lwhy[256] = "";
	if (policyd_config_parse(buf, n, c, lwhy, sizeof(lwhy)) != 0) {
		snprintf(why, whylen, "%s: %s", path, lwhy);
		return -1;
	}
	return 0;
}
