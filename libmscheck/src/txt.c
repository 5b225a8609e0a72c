/* txt.c - TXT records with a given prefix, joined (RFC 7208 s3.3). */
#include "check_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int check_txt(struct ms_check_report *c, const char *name, const char *prefix, char ***out,
	      enum ms_dns_security *sec, char *why, size_t whylen)
{
	struct ms_dns_result *r = NULL;
	*out = NULL;
	if (ms_dns_lookup(c->dns, name, MS_DNS_T_TXT, &r, why, whylen) != MS_OK)
		return -1;
	*sec = ms_dns_result_security(r);
	enum ms_dns_outcome o = ms_dns_result_outcome(r);
	if (o != MS_DNS_ANSWER && o != MS_DNS_NXDOMAIN && o != MS_DNS_NODATA) {
		snprintf(why, whylen, "TXT lookup for %s: %s (%s)", name, ms_dns_outcome_str(o),
			 ms_dns_security_str(*sec));
		ms_dns_result_free(r);
		return -1;
	}
	size_t n = ms_dns_result_count(r);
	char **v = calloc(n + 1, sizeof(*v));
	int found = 0;
	size_t plen = strlen(prefix);
	for (size_t i = 0; v && i < n; i++) {
		size_t len = 0;
		ms_dns_result_rdata(r, i, &len);
		char *text = malloc(len + 1);
		if (text == NULL)
			break;
		/* "v=spf1" must be followed by a space or the end (RFC 7208
		 * s4.5), "v=DMARC1" by ";" or a space; an empty prefix takes all. */
		if (ms_dns_result_txt(r, i, text, len + 1, NULL) == MS_OK &&
		    (plen == 0 ||
		     (strncasecmp(text, prefix, plen) == 0 &&
		      (text[plen] == '\0' || text[plen] == ' ' || text[plen] == ';'))))
			v[found++] = text;
		else
			free(text);
	}
	ms_dns_result_free(r);
	*out = v;
	return found;
}

void check_txt_free(char **txt, int n)
{
	for (int i = 0; txt && i < n; i++)
		free(txt[i]);
	free(txt);
}
