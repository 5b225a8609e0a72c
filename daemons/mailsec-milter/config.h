/*
 * config.h - the mailsec-milter configuration file (mailsec-milter.conf):
 * one directive per line, "Name value...", '#' starts a comment line,
 * names case-insensitive.  The signing directives follow OpenDKIM's
 * KeyTable and SigningTable (opendkim.conf(5)), written inline:
 *
 *   KeyTable      NAME DOMAIN:SELECTOR:KEYFILE
 *   SigningTable  PATTERN NAME[,NAME...]
 *
 * Parsing reads only the text (no file is opened), so the parser can be
 * fuzzed; mm_config_signtab() then loads the keys through a callback and
 * builds the library's signing table (mailsec/dkim_signtab.h), where every
 * signing decision is made.
 */
#ifndef MAILSEC_MILTER_CONFIG_H
#define MAILSEC_MILTER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <mailsec/dkim.h>
#include <mailsec/dkim_signtab.h>
#include <mailsec/status.h>

#define MM_MAX_CONFIG (1024u * 1024u)  /* bytes in the file */
#define MM_MAX_LINE 4096u              /* bytes in one line */
#define MM_MAX_FORWARDERS 8u
#define MM_MAX_PATH 1024u

/* What the milter does with a DMARC disposition of the library. */
enum mm_dmarc_action {
	MM_DMARC_NONE = 0,       /* headers only */
	MM_DMARC_QUARANTINE = 1, /* quarantine reject and quarantine verdicts */
	MM_DMARC_REJECT = 2      /* reject p=reject, quarantine p=quarantine */
};

/* What the milter answers when a verdict cannot be made (an internal
 * error, not a DNS temperror: those are results in the A-R field). */
enum mm_on_error { MM_ERROR_TEMPFAIL = 0, MM_ERROR_ACCEPT = 1 };

struct mm_key {
	char *name, *domain, *selector, *path;
};

struct mm_rule {
	char *pattern, *keys;
};

struct mm_config {
	char *authserv_id;          /* AuthservID (required) */
	char *socket;               /* Socket, libmilter form: inet:PORT@ADDR, unix:PATH */
	char *dns_config;           /* DNSConfig: unbound.conf file, the whole resolver */
	char *forwarders[MM_MAX_FORWARDERS]; /* DNSForward (repeatable) */
	size_t nforwarders;
	char *trust_anchor;         /* TrustAnchorFile */
	unsigned dns_timeout_ms;    /* DNSTimeout (0: the library default) */
	unsigned deadline_ms;       /* AuthDeadline (0: the library default) */
	int verify, sign;           /* Mode: v, s, sv */
	enum mm_dmarc_action dmarc; /* DMARCAction */
	int reject_bad_from;        /* RejectBadFrom */
	enum mm_on_error on_error;  /* OnError */
	char **networks;            /* InternalHosts (repeatable, comma lists) */
	size_t nnetworks;
	struct mm_key *keys;        /* KeyTable */
	size_t nkeys;
	struct mm_rule *rules;      /* SigningTable */
	size_t nrules;
	int received_requiretls;    /* AddReceived: the RFC 8689 Received field */
	char *log_level;            /* LogLevel: error, warning, info, debug */
};

/*
 * Parse the file's text (len bytes, not NUL-terminated).  MS_OK with *out
 * filled (free with mm_config_free); MS_ERR_CONFIG with "line N: ..." in
 * `why` for an unknown directive, a bad value, a missing AuthservID or
 * Socket, a directive given twice where one is allowed, a table entry that
 * is not NAME DOMAIN:SELECTOR:FILE or PATTERN NAMES; MS_ERR_LIMIT over
 * MM_MAX_CONFIG bytes or a line over MM_MAX_LINE; MS_ERR_NOMEM.
 */
ms_status mm_config_parse(const uint8_t *buf, size_t len, struct mm_config *out,
			  char *why, size_t whylen);
void mm_config_free(struct mm_config *c);

/* Loads one KeyTable key file (the daemon reads it; the fuzz target
 * generates a key).  Returns MS_OK with *out, or a status with `why`. */
typedef ms_status (*mm_key_loader)(void *user, const char *path, struct ms_dkim_key **out,
				   char *why, size_t whylen);

/*
 * The signing table of the configuration: every KeyTable key (through
 * `load`), SigningTable rule and InternalHosts network, checked by the
 * library.  MS_OK with *out (ms_dkim_signtab_free); otherwise the status
 * with "KeyTable NAME: ..." etc. in `why`.
 */
ms_status mm_config_signtab(const struct mm_config *c, mm_key_loader load, void *user,
			    struct ms_dkim_signtab **out, char *why, size_t whylen);

#endif
