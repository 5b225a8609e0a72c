/*
 * config.h - mailsec-policyd's configuration file: one "key = value" per
 * line, '#' comments, blank lines ignored (see mailsec-policyd.conf and
 * docs/man/mailsec-policyd.8).  Unknown keys and bad values are errors with
 * the line number: a daemon in the mail path must not start half
 * configured.
 */
#ifndef POLICYD_CONFIG_H
#define POLICYD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define POLICYD_PATH_MAX 512
#define POLICYD_CONFIG_MAX (64 * 1024) /* bytes of a config file */

enum policyd_log_format { LOG_LOGFMT = 0, LOG_TEXT = 1 };

struct policyd_config {
	char listen_unix[108];       /* sun_path; "" none */
	unsigned unix_mode;          /* socket file mode, default 0666 */
	char listen_tcp[64];         /* "ADDR:PORT" (IPv4 or [IPv6]); "" none */
	char map_name[64];           /* the socketmap name Postfix sends */
	char dns_config[POLICYD_PATH_MAX];  /* unbound.conf; "" system resolver */
	unsigned dns_timeout_ms;
	char cache[POLICYD_PATH_MAX];       /* SQLite MTA-STS cache; "" none */
	char ca_file[POLICYD_PATH_MAX];     /* MTA-STS HTTPS CAs; "" system */
	char connect_to[256];        /* test hook: curl CONNECT_TO entry */
	unsigned fetch_timeout_ms;
	unsigned read_timeout_ms;    /* a started request must finish by then */
	unsigned idle_timeout_ms;    /* an idle connection is closed (0: never) */
	unsigned max_connections;
	unsigned max_request;        /* netstring payload limit */
	unsigned workers;            /* lookup threads */
	unsigned answer_cache_ttl;   /* seconds an OK/NOTFOUND answer is reused (0: off) */
	unsigned answer_cache_size;  /* entries of that memo */
	int testing_as_enforce;
	int refresh;                 /* proactive MTA-STS refresh on/off */
	unsigned refresh_interval;   /* seconds (0: about a day, jittered) */
	enum policyd_log_format log_format;
	int log_level;               /* enum ms_log_level */
	char log_file[POLICYD_PATH_MAX];    /* "" stderr */
	char metrics_file[POLICYD_PATH_MAX]; /* Prometheus text file; "" none */
	unsigned metrics_interval;   /* seconds between writes */
};

/* The defaults (no listener: one must be configured). */
void policyd_config_defaults(struct policyd_config *c);

/*
 * Parse a config file's text over the values already in *c.  Returns 0, or
 * -1 with `why` set ("line N: ...").  Never reads past len; lines longer
 * than 1024 bytes and files above POLICYD_CONFIG_MAX are errors.
 */
int policyd_config_parse(const uint8_t *buf, size_t len, struct policyd_config *c, char *why,
			 size_t whylen);

/* Set one key (also used for command-line overrides); 0 or -1 with why. */
int policyd_config_set(struct policyd_config *c, const char *key, const char *value, char *why,
		       size_t whylen);

/* Read and parse a file; 0 or -1 with why. */
int policyd_config_load(const char *path, struct policyd_config *c, char *why, size_t whylen);

#endif
