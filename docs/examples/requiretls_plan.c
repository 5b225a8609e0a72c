/*
 * requiretls_plan.c - the minimal librequiretls program from
 * docs/requiretls.md: what TLS a REQUIRETLS message demands from an MX host
 * under each DANE state, and what happens when the host does not advertise
 * REQUIRETLS after STARTTLS.  The engine is a pure function: the MTA feeds
 * it what its DNS, DANE and MTA-STS code found.
 */
#include <stdio.h>

#include <mailsec/requiretls.h>
#include <mailsec/requiretls_decide.h>

int main(void)
{
	struct ms_rtls_domain d = {
		.requirement = MS_RTLS_REQ_REQUIRED,  /* MAIL FROM ... REQUIRETLS */
		.domain = "example.org",
		.mx_security = MS_DNS_SECURE,
		.sts_mode = MS_RTLS_STS_NO_POLICY,
	};
	static const enum ms_rtls_dane states[] = { MS_RTLS_DANE_USABLE, MS_RTLS_DANE_INSECURE };
	for (size_t i = 0; i < 2; i++) {
		struct ms_rtls_host h = { .name = "mx.example.org",
					  .addr_security = MS_DNS_SECURE,
					  .dane = states[i] };
		struct ms_rtls_plan p = { .version = MS_RTLS_PLAN_VERSION };
		if (ms_rtls_plan(&d, &h, &p) != MS_OK)
			return 1;
		printf("DANE %s: %s%s%s\n", states[i] == MS_RTLS_DANE_USABLE ? "usable" : "insecure",
		       ms_rtls_mode_str(p.mode), p.mode == MS_RTLS_MODE_SKIP ? ": " : "",
		       p.mode == MS_RTLS_MODE_SKIP ? p.text : "");
		if (p.mode != MS_RTLS_MODE_DANE)
			continue;
		/* the attempt: TLS and DANE fine, but no REQUIRETLS after STARTTLS */
		struct ms_rtls_observed o = { .connected = 1, .starttls_offered = 1,
					      .handshake = MS_RTLS_STEP_OK,
					      .dane = MS_RTLS_STEP_OK,
					      .requiretls_offered = 0 };
		struct ms_rtls_outcome out = { .version = MS_RTLS_OUTCOME_VERSION };
		if (ms_rtls_judge(&d, &h, &p, &o, &out) != MS_OK)
			return 1;
		printf("  host without REQUIRETLS: %s %s %s\n", ms_rtls_verdict_str(out.verdict),
		       out.enhanced, out.text);
	}
	return 0;
}
