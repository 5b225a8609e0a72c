/*
 * server.c - the receiving side of REQUIRETLS: what to advertise and how to
 * answer the MAIL FROM parameter (RFC 8689 s2, s4.1; RFC 5321 s4.1.1.11).
 */
#include "mailsec/requiretls.h"
#include "rtls_internal.h"

int ms_rtls_server_advertise(int enabled, int tls_active)
{
	/* RFC 8689 s2: REQUIRETLS may only be used on a session that employs
	 * TLS, so it is advertised only there (never before STARTTLS). */
	return enabled && tls_active;
}

ms_status ms_rtls_server_check_mail(const struct ms_rtls_mail *m, int enabled,
				    int tls_active, struct ms_rtls_reply *out)
{
	if (m == NULL || out == NULL)
		return MS_ERR_INVALID;
	if (!ms_rtls_mail_requiretls(m)) {
		*out = (struct ms_rtls_reply){1, 250, "2.1.0", "Sender OK"};
		return MS_OK;
	}
	if (!enabled) {
		/* RFC 5321 s4.1.1.11: a parameter the server does not
		 * implement gets 555; RFC 3463 5.5.4 "invalid command
		 * arguments". */
		*out = (struct ms_rtls_reply){0, 555, "5.5.4",
			"MAIL FROM parameter REQUIRETLS not implemented"};
		return MS_OK;
	}
	if (!tls_active) {
		/* RFC 8689 s4.1 (and s2): REQUIRETLS on a session without
		 * TLS is refused with 530 5.7.10 "Encryption Needed". */
		*out = (struct ms_rtls_reply){0, 530, "5.7.10",
			"REQUIRETLS needs a TLS session"};
		return MS_OK;
	}
	*out = (struct ms_rtls_reply){1, 250, "2.1.0", "Sender OK, REQUIRETLS"};
	return MS_OK;
}

void ms_rtls_server_syntax_reply(struct ms_rtls_reply *out)
{
	/* RFC 5321 s4.2.2: 501 "Syntax error in parameters or arguments". */
	if (out)
		*out = (struct ms_rtls_reply){0, 501, "5.5.4",
			"Syntax error in MAIL FROM parameters"};
}
