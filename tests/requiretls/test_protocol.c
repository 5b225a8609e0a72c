/*
 * test_protocol.c - table tests for librequiretls's protocol pieces: EHLO
 * capability sets, MAIL FROM parameters, xtext, server acceptance,
 * TLS-Required, the message requirement and the Received helper.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailsec/requiretls.h>

#define B(s) (const uint8_t *)(s), strlen(s)

/* ---- EHLO ---------------------------------------------------------------- */

struct ehlo_case {
	const char *reply;
	ms_status st;
	int code;
	size_t ncaps;
	const char *has;      /* a keyword that must be present (any case) */
	const char *param;    /* expected params of `has` */
	const char *hasnot;   /* a keyword that must be absent */
};

static const struct ehlo_case ehlo_cases[] = {
	{"250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
	 MS_OK, 250, 4, "size", "10240000", "REQUIRETLS"},
	{"250-mx.example\r\n250-requiretls\r\n250 SMTPUTF8\r\n", MS_OK, 250, 2, "REQUIRETLS", "", "STARTTLS"},
	/* bare LF, last line end missing */
	{"250-mx\n250-AUTH PLAIN LOGIN\n250 STARTTLS", MS_OK, 250, 2, "auth", "PLAIN LOGIN", "SIZE"},
	/* single-line reply: greeting only */
	{"250 mx.example\r\n", MS_OK, 250, 0, NULL, NULL, "STARTTLS"},
	{"250\r\n", MS_OK, 250, 0, NULL, NULL, "STARTTLS"},
	/* obsolete AUTH= form is skipped, duplicates keep the first */
	{"250-mx\r\n250-AUTH=LOGIN\r\n250-SIZE 1\r\n250 SIZE 2\r\n", MS_OK, 250, 1, "SIZE", "1", "AUTH=LOGIN"},
	/* trailing blanks trimmed */
	{"250-mx\r\n250-STARTTLS  \r\n250 X-FOO  a b\r\n", MS_OK, 250, 2, "x-foo", "a b", NULL},
	/* refused EHLO: empty set, code kept */
	{"502 5.5.1 command not implemented\r\n", MS_OK, 502, 0, NULL, NULL, "STARTTLS"},
	{"554-no\r\n554 go away\r\n", MS_OK, 554, 0, NULL, NULL, NULL},
	/* malformed */
	{"", MS_ERR_PARSE, 0, 0, NULL, NULL, NULL},
	{"250-mx\r\n250-STARTTLS\r\n", MS_ERR_PARSE, 0, 0, NULL, NULL, "STARTTLS"},
	{"250-mx\r\n251 STARTTLS\r\n", MS_ERR_PARSE, 0, 0, NULL, NULL, "STARTTLS"},
	{"250 mx\r\n250 STARTTLS\r\n", MS_ERR_PARSE, 0, 0, NULL, NULL, NULL},
	{"25O mx\r\n", MS_ERR_PARSE, 0, 0, NULL, NULL, NULL},
	{"250xmx\r\n", MS_ERR_PARSE, 0, 0, NULL, NULL, NULL},
	{"hello\r\n", MS_ERR_PARSE, 0, 0, NULL, NULL, NULL},
	{"150 mx\r\n", MS_ERR_PARSE, 0, 0, NULL, NULL, NULL},
};

START_TEST(test_ehlo_table)
{
	const struct ehlo_case *c = &ehlo_cases[_i];
	struct ms_rtls_ehlo *s = NULL;
	char why[128] = "";
	ck_assert_int_eq(ms_rtls_ehlo_new(NULL, &s), MS_OK);
	ms_status st = ms_rtls_ehlo_parse(s, B(c->reply), 0, why, sizeof(why));
	ck_assert_msg(st == c->st, "case %d: status %d (%s), want %d", _i, st, why, c->st);
	if (st != MS_OK)
		ck_assert_str_ne(why, "");
	ck_assert_int_eq(ms_rtls_ehlo_code(s), c->code);
	ck_assert_uint_eq(ms_rtls_ehlo_count(s), c->ncaps);
	if (c->has) {
		ck_assert(ms_rtls_ehlo_has(s, c->has));
		ck_assert_str_eq(ms_rtls_ehlo_param(s, c->has), c->param);
	}
	if (c->hasnot)
		ck_assert(!ms_rtls_ehlo_has(s, c->hasnot));
	for (size_t i = 0; i < ms_rtls_ehlo_count(s); i++) {
		const char *k = ms_rtls_ehlo_keyword(s, i);
		for (; *k; k++)
			ck_assert(!(*k >= 'a' && *k <= 'z'));
	}
	ck_assert_ptr_null(ms_rtls_ehlo_keyword(s, ms_rtls_ehlo_count(s)));
	ms_rtls_ehlo_free(s);
}
END_TEST

START_TEST(test_ehlo_discard_after_starttls)
{
	/* RFC 3207 s4.2: what came before STARTTLS is forgotten, including a
	 * (forged) REQUIRETLS, and only the post-TLS reply counts. */
	struct ms_rtls_ehlo *s = NULL;
	ck_assert_int_eq(ms_rtls_ehlo_new(NULL, &s), MS_OK);
	ck_assert_int_eq(ms_rtls_ehlo_parse(s, B("250-mx\r\n250-STARTTLS\r\n250 REQUIRETLS\r\n"),
					    0, NULL, 0), MS_OK);
	ck_assert(ms_rtls_ehlo_has(s, "requiretls"));
	ck_assert(!ms_rtls_ehlo_over_tls(s));
	ms_rtls_ehlo_discard(s);
	ck_assert_int_eq(ms_rtls_ehlo_code(s), 0);
	ck_assert_uint_eq(ms_rtls_ehlo_count(s), 0);
	ck_assert(!ms_rtls_ehlo_has(s, "REQUIRETLS"));
	ck_assert(!ms_rtls_ehlo_has(s, "STARTTLS"));
	ck_assert_str_eq(ms_rtls_ehlo_greeting(s), "");
	ck_assert_int_eq(ms_rtls_ehlo_parse(s, B("250-mx.example hi\r\n250 SIZE\r\n"), 1, NULL, 0), MS_OK);
	ck_assert(ms_rtls_ehlo_over_tls(s));
	ck_assert(!ms_rtls_ehlo_has(s, "REQUIRETLS"));
	ck_assert_str_eq(ms_rtls_ehlo_greeting(s), "mx.example hi");
	ms_rtls_ehlo_free(s);
	ms_rtls_ehlo_free(NULL);
	ms_rtls_ehlo_discard(NULL);
}
END_TEST

START_TEST(test_ehlo_limits)
{
	struct ms_rtls_ehlo *s = NULL;
	ck_assert_int_eq(ms_rtls_ehlo_new(NULL, &s), MS_OK);
	/* more capability lines than kept */
	size_t cap = 64 * (MS_RTLS_MAX_CAPS + 10);
	char *r = malloc(cap);
	size_t o = (size_t)sprintf(r, "250-mx\r\n");
	for (int i = 0; i < MS_RTLS_MAX_CAPS + 5; i++)
		o += (size_t)sprintf(r + o, "250-X%d\r\n", i);
	o += (size_t)sprintf(r + o, "250 LAST\r\n");
	ck_assert_int_eq(ms_rtls_ehlo_parse(s, (const uint8_t *)r, o, 0, NULL, 0), MS_ERR_LIMIT);
	ck_assert_uint_eq(ms_rtls_ehlo_count(s), 0);
	/* a line over the bound */
	memset(r, 'A', 1200);
	memcpy(r, "250 ", 4);
	ck_assert_int_eq(ms_rtls_ehlo_parse(s, (const uint8_t *)r, 1200, 0, NULL, 0), MS_ERR_LIMIT);
	free(r);
	ck_assert_int_eq(ms_rtls_ehlo_parse(NULL, B("250 x"), 0, NULL, 0), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_ehlo_new(NULL, NULL), MS_ERR_INVALID);
	ms_rtls_ehlo_free(s);
}
END_TEST

/* ---- MAIL FROM parameters ------------------------------------------------- */

struct mail_case {
	const char *params;
	ms_status st;
	size_t n;
	int requiretls;
	const char *formatted; /* NULL: same as input */
};

static const struct mail_case mail_cases[] = {
	{"REQUIRETLS", MS_OK, 1, 1, NULL},
	{"requiretls", MS_OK, 1, 1, "REQUIRETLS"},
	{" SIZE=1000 BODY=8BITMIME REQUIRETLS", MS_OK, 3, 1, "SIZE=1000 BODY=8BITMIME REQUIRETLS"},
	{"SIZE=1000  SMTPUTF8", MS_OK, 2, 0, "SIZE=1000 SMTPUTF8"},
	{"RET=HDRS ENVID=QQ+2B123 REQUIRETLS", MS_OK, 3, 1, NULL},
	{"BODY=binarymime", MS_OK, 1, 0, "BODY=binarymime"},
	{"X-FOO=bar AUTH=<>", MS_OK, 2, 0, NULL},
	{"", MS_OK, 0, 0, ""},
	{"REQUIRETLS=YES", MS_ERR_PARSE, 0, 0, NULL},
	{"SMTPUTF8=1", MS_ERR_PARSE, 0, 0, NULL},
	{"REQUIRETLS REQUIRETLS", MS_ERR_PARSE, 0, 0, NULL},
	{"SIZE=12a", MS_ERR_PARSE, 0, 0, NULL},
	{"SIZE=", MS_ERR_PARSE, 0, 0, NULL},
	{"SIZE", MS_ERR_PARSE, 0, 0, NULL},
	{"SIZE=123456789012345678901", MS_ERR_PARSE, 0, 0, NULL},
	{"BODY=9BIT", MS_ERR_PARSE, 0, 0, NULL},
	{"RET=ALL", MS_ERR_PARSE, 0, 0, NULL},
	{"ENVID=a+zz", MS_ERR_PARSE, 0, 0, NULL},
	{"ENVID=a+4", MS_ERR_PARSE, 0, 0, NULL},
	{"ENVID=a+2b", MS_ERR_PARSE, 0, 0, NULL},
	{"-X=1", MS_ERR_PARSE, 0, 0, NULL},
	{"X_Y=1", MS_ERR_PARSE, 0, 0, NULL},
	{"=1", MS_ERR_PARSE, 0, 0, NULL},
	{"X=a=b", MS_ERR_PARSE, 0, 0, NULL},
	{"X=\x01", MS_ERR_PARSE, 0, 0, NULL},
	{"REQUIRETLS\tSIZE=1", MS_ERR_PARSE, 0, 0, NULL},
};

START_TEST(test_mail_table)
{
	const struct mail_case *c = &mail_cases[_i];
	struct ms_rtls_mail *m = NULL;
	char why[128] = "", out[512];
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ms_status st = ms_rtls_mail_parse_params(m, B(c->params), why, sizeof(why));
	ck_assert_msg(st == c->st, "case %d (%s): status %d (%s)", _i, c->params, st, why);
	ck_assert_uint_eq(ms_rtls_mail_count(m), c->n);
	ck_assert_int_eq(ms_rtls_mail_requiretls(m), c->requiretls);
	if (st == MS_OK) {
		size_t need = 0;
		ck_assert_int_eq(ms_rtls_mail_format(m, out, sizeof(out), &need), MS_OK);
		ck_assert_str_eq(out, c->formatted ? c->formatted : c->params);
		ck_assert_uint_eq(need, strlen(out));
		/* the formatted text parses back to the same list */
		struct ms_rtls_mail *m2 = NULL;
		ck_assert_int_eq(ms_rtls_mail_new(NULL, &m2), MS_OK);
		ck_assert_int_eq(ms_rtls_mail_parse_params(m2, B(out), NULL, 0), MS_OK);
		ck_assert_uint_eq(ms_rtls_mail_count(m2), c->n);
		ms_rtls_mail_free(m2);
	} else {
		ck_assert_str_ne(why, "");
	}
	ms_rtls_mail_free(m);
}
END_TEST

START_TEST(test_mail_typed_and_command)
{
	struct ms_rtls_mail *m = NULL;
	char buf[128];
	size_t n = 0;
	uint64_t size = 0;
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m,
		B("mail from:<\"a>b\"@example.org> SIZE=18446744073709551615 BODY=8BITMIME RET=HDRS ENVID=id+2B1+3D SMTPUTF8 REQUIRETLS"),
		NULL, 0), MS_OK);
	ck_assert_str_eq(ms_rtls_mail_path(m), "\"a>b\"@example.org");
	ck_assert_int_eq(ms_rtls_mail_size(m, &size), MS_OK);
	ck_assert(size == UINT64_MAX);
	ck_assert_int_eq(ms_rtls_mail_body(m), MS_RTLS_BODY_8BITMIME);
	ck_assert_int_eq(ms_rtls_mail_ret(m), MS_RTLS_RET_HDRS);
	ck_assert(ms_rtls_mail_smtputf8(m));
	ck_assert(ms_rtls_mail_requiretls(m));
	ck_assert_int_eq(ms_rtls_mail_envid(m, buf, sizeof(buf), &n), MS_OK);
	ck_assert_str_eq(buf, "id+1=");
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(ms_rtls_mail_envid(m, buf, 3, &n), MS_ERR_LIMIT);

	ck_assert_int_eq(ms_rtls_mail_parse_command(m, B("MAIL FROM:<> REQUIRETLS"), NULL, 0), MS_OK);
	ck_assert_str_eq(ms_rtls_mail_path(m), "");
	ck_assert(ms_rtls_mail_requiretls(m));
	ck_assert_int_eq(ms_rtls_mail_size(m, &size), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m, B("MAIL FROM: <a@b>"), NULL, 0), MS_OK);
	ck_assert_uint_eq(ms_rtls_mail_count(m), 0);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m, B("MAIL FROM:<a@b>SIZE=1"), NULL, 0), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m, B("MAIL FROM:<a@b"), NULL, 0), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m, B("RCPT TO:<a@b>"), NULL, 0), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m, B("MAIL FROM:a@b"), NULL, 0), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_mail_parse_command(m, B("MAIL FROM:<a\rb@c>"), NULL, 0), MS_ERR_PARSE);
	ms_rtls_mail_free(m);
}
END_TEST

START_TEST(test_mail_format_builder)
{
	struct ms_rtls_mail *m = NULL;
	char out[256];
	size_t need = 0;
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_set(m, "SIZE", "42"), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_set(m, "body", "8BITMIME"), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_set_envid(m, B("a b+c=d\xc3\xa9")), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_set(m, "REQUIRETLS", NULL), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_format(m, out, sizeof(out), &need), MS_OK);
	ck_assert_str_eq(out, "SIZE=42 BODY=8BITMIME ENVID=a+20b+2Bc+3Dd+C3+A9 REQUIRETLS");
	/* replace keeps the position */
	ck_assert_int_eq(ms_rtls_mail_set(m, "size", "43"), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_remove(m, "body"), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_remove(m, "BODY"), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_format(m, out, sizeof(out), NULL), MS_OK);
	ck_assert_str_eq(out, "SIZE=43 ENVID=a+20b+2Bc+3Dd+C3+A9 REQUIRETLS");
	/* too small: reports the size needed */
	ck_assert_int_eq(ms_rtls_mail_format(m, out, 10, &need), MS_ERR_LIMIT);
	ck_assert_uint_eq(need, strlen("SIZE=43 ENVID=a+20b+2Bc+3Dd+C3+A9 REQUIRETLS"));
	/* refused values */
	ck_assert_int_eq(ms_rtls_mail_set(m, "REQUIRETLS", "1"), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_mail_set(m, "SIZE", "x"), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_mail_set(m, "BAD KEY", NULL), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_mail_set(m, "X", "a b"), MS_ERR_INVALID);
	ck_assert_int_eq(ms_rtls_mail_set(m, "X", "a\r\n"), MS_ERR_INVALID);
	ms_rtls_mail_free(m);
	ms_rtls_mail_free(NULL);
}
END_TEST

START_TEST(test_xtext)
{
	char out[64];
	size_t n;
	ck_assert_int_eq(ms_rtls_xtext_encode(B("+= \x7f~!"), out, sizeof(out), &n), MS_OK);
	ck_assert_str_eq(out, "+2B+3D+20+7F~!");
	ck_assert_int_eq(ms_rtls_xtext_decode(B("+2B+3D+20+7F~!"), out, sizeof(out), &n), MS_OK);
	ck_assert_str_eq(out, "+= \x7f~!");
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(ms_rtls_xtext_decode(B("+2b"), out, sizeof(out), &n), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_xtext_decode(B("a=b"), out, sizeof(out), &n), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_xtext_decode(B("a b"), out, sizeof(out), &n), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_xtext_decode(B("+"), out, sizeof(out), &n), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_xtext_encode(B("++"), out, 6, &n), MS_ERR_LIMIT);
	ck_assert_int_eq(ms_rtls_xtext_encode(B("++"), out, 7, &n), MS_OK);
}
END_TEST

/* ---- server acceptance ---------------------------------------------------- */

struct server_case {
	const char *params;
	int enabled, tls;
	int accept, code;
	const char *enhanced;
};

static const struct server_case server_cases[] = {
	{"REQUIRETLS", 1, 1, 1, 250, "2.1.0"},
	{"REQUIRETLS", 1, 0, 0, 530, "5.7.10"},  /* RFC 8689 s4.1 */
	{"REQUIRETLS", 0, 1, 0, 555, "5.5.4"},   /* RFC 5321 s4.1.1.11 */
	{"REQUIRETLS", 0, 0, 0, 555, "5.5.4"},
	{"SIZE=10", 1, 0, 1, 250, "2.1.0"},
	{"SIZE=10", 0, 0, 1, 250, "2.1.0"},
	{"", 1, 1, 1, 250, "2.1.0"},
};

START_TEST(test_server_table)
{
	const struct server_case *c = &server_cases[_i];
	struct ms_rtls_mail *m = NULL;
	struct ms_rtls_reply r;
	ck_assert_int_eq(ms_rtls_mail_new(NULL, &m), MS_OK);
	ck_assert_int_eq(ms_rtls_mail_parse_params(m, B(c->params), NULL, 0), MS_OK);
	ck_assert_int_eq(ms_rtls_server_check_mail(m, c->enabled, c->tls, &r), MS_OK);
	ck_assert_int_eq(r.accept, c->accept);
	ck_assert_int_eq(r.code, c->code);
	ck_assert_str_eq(r.enhanced, c->enhanced);
	ck_assert(r.text != NULL && r.text[0]);
	ms_rtls_mail_free(m);
}
END_TEST

START_TEST(test_server_advertise)
{
	ck_assert(ms_rtls_server_advertise(1, 1));
	ck_assert(!ms_rtls_server_advertise(1, 0));
	ck_assert(!ms_rtls_server_advertise(0, 1));
	ck_assert(!ms_rtls_server_advertise(0, 0));
	struct ms_rtls_reply r;
	ms_rtls_server_syntax_reply(&r);
	ck_assert_int_eq(r.code, 501);
	ck_assert_str_eq(r.enhanced, "5.5.4");
	ck_assert_int_eq(ms_rtls_server_check_mail(NULL, 1, 1, &r), MS_ERR_INVALID);
}
END_TEST

/* ---- TLS-Required --------------------------------------------------------- */

struct tlsreq_case {
	const char *hdrs;
	int param;
	enum ms_rtls_tlsreq want;
};

static const struct tlsreq_case tlsreq_cases[] = {
	{"From: a@b\r\nTLS-Required: No\r\nSubject: x\r\n\r\nbody", 0, MS_RTLS_TLSREQ_NO},
	{"tls-required:no\r\n", 0, MS_RTLS_TLSREQ_NO},
	{"TLS-REQUIRED:   NO  \r\n", 0, MS_RTLS_TLSREQ_NO},
	{"TLS-Required:\r\n No\r\n", 0, MS_RTLS_TLSREQ_NO},    /* folded */
	{"TLS-Required: nO\n", 0, MS_RTLS_TLSREQ_NO},           /* bare LF */
	{"TLS-Required : No\r\n", 0, MS_RTLS_TLSREQ_NO},        /* obsolete WSP before colon */
	{"TLS-Required: No", 0, MS_RTLS_TLSREQ_NO},             /* no final line end */
	{"TLS-Required: No\r\n", 1, MS_RTLS_TLSREQ_OVERRIDDEN}, /* RFC 8689 s2 */
	{"TLS-Required: No\r\nTLS-Required: No\r\n", 0, MS_RTLS_TLSREQ_MULTIPLE},
	{"TLS-Required: No\r\nX: y\r\ntls-required: yes\r\n", 0, MS_RTLS_TLSREQ_MULTIPLE},
	{"TLS-Required: Yes\r\n", 0, MS_RTLS_TLSREQ_INVALID},
	{"TLS-Required: No thanks\r\n", 0, MS_RTLS_TLSREQ_INVALID},
	{"TLS-Required: No\r\n (comment)\r\n", 0, MS_RTLS_TLSREQ_INVALID},
	{"TLS-Required: None\r\n", 0, MS_RTLS_TLSREQ_INVALID},
	{"TLS-Required:\r\n", 0, MS_RTLS_TLSREQ_INVALID},
	{"TLS-Required: \"No\"\r\n", 0, MS_RTLS_TLSREQ_INVALID},
	{"X-TLS-Required: No\r\nTLS-Requires: No\r\n", 0, MS_RTLS_TLSREQ_ABSENT},
	{"Subject: TLS-Required: No\r\n", 0, MS_RTLS_TLSREQ_ABSENT},
	{"Subject: x\r\n TLS-Required: No\r\n", 0, MS_RTLS_TLSREQ_ABSENT}, /* continuation */
	{"From: a\r\n\r\nTLS-Required: No\r\n", 0, MS_RTLS_TLSREQ_ABSENT},  /* in the body */
	{"", 0, MS_RTLS_TLSREQ_ABSENT},
	{"", 1, MS_RTLS_TLSREQ_ABSENT},
};

START_TEST(test_tlsreq_table)
{
	const struct tlsreq_case *c = &tlsreq_cases[_i];
	enum ms_rtls_tlsreq got = ms_rtls_tlsreq_scan(B(c->hdrs), c->param);
	ck_assert_msg(got == c->want, "case %d: got %s want %s", _i,
		      ms_rtls_tlsreq_str(got), ms_rtls_tlsreq_str(c->want));
}
END_TEST

/* ---- requirement ----------------------------------------------------------- */

START_TEST(test_requirement)
{
	enum ms_rtls_requirement r;
	ck_assert_int_eq(ms_rtls_requirement_of(1, MS_RTLS_TLSREQ_NO), MS_RTLS_REQ_REQUIRED);
	ck_assert_int_eq(ms_rtls_requirement_of(0, MS_RTLS_TLSREQ_NO), MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_requirement_of(0, MS_RTLS_TLSREQ_MULTIPLE), MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_requirement_of(0, MS_RTLS_TLSREQ_INVALID), MS_RTLS_REQ_DEFAULT);
	ck_assert_int_eq(ms_rtls_requirement_of(0, MS_RTLS_TLSREQ_ABSENT), MS_RTLS_REQ_DEFAULT);
	/* the stored strings are an on-disk format: pinned here */
	ck_assert_str_eq(ms_rtls_requirement_str(MS_RTLS_REQ_DEFAULT), "default");
	ck_assert_str_eq(ms_rtls_requirement_str(MS_RTLS_REQ_REQUIRED), "required");
	ck_assert_str_eq(ms_rtls_requirement_str(MS_RTLS_REQ_NOT_REQUIRED), "not-required");
	static const enum ms_rtls_requirement all[] = {MS_RTLS_REQ_DEFAULT,
		MS_RTLS_REQ_REQUIRED, MS_RTLS_REQ_NOT_REQUIRED};
	for (size_t i = 0; i < 3; i++) {
		const char *s = ms_rtls_requirement_str(all[i]);
		ck_assert_int_eq(ms_rtls_requirement_parse(B(s), &r), MS_OK);
		ck_assert_int_eq(r, all[i]);
	}
	/* an operator edits a queued message's requirement */
	ck_assert_int_eq(ms_rtls_requirement_parse(B("  Not-Required\n"), &r), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_NOT_REQUIRED);
	ck_assert_int_eq(ms_rtls_requirement_parse(B("REQUIRED"), &r), MS_OK);
	ck_assert_int_eq(r, MS_RTLS_REQ_REQUIRED);
	ck_assert_int_eq(ms_rtls_requirement_parse(B("yes"), &r), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_requirement_parse(B(""), &r), MS_ERR_PARSE);
	ck_assert_int_eq(ms_rtls_requirement_parse(B("required2"), &r), MS_ERR_PARSE);
}
END_TEST

/* ---- Received -------------------------------------------------------------- */

START_TEST(test_received)
{
	struct ms_rtls_lookup_status ls[] = {{"iprev", MS_DNS_SECURE}, {"spf", MS_DNS_INSECURE}};
	struct ms_rtls_received r = {0};
	r.version = MS_RTLS_RECEIVED_VERSION;
	r.helo = "client.example";
	r.client_rdns = "rdns.example";
	r.client_ip = "192.0.2.1";
	r.by = "mx.example.org";
	r.id = "Q1";
	r.for_addr = "rcpt@example.org";
	r.tls = 1;
	r.tls_version = "TLSv1.3";
	r.tls_cipher = "TLS_AES_256_GCM_SHA384";
	r.requiretls = 1;
	r.lookups = ls;
	r.nlookups = 2;
	r.when = 1795867200; /* 2026-11-28 12:00:00 UTC, a Saturday */
	char out[512], why[128];
	size_t need = 0;
	ck_assert_int_eq(ms_rtls_received_format(&r, out, sizeof(out), &need, why, sizeof(why)), MS_OK);
	ck_assert_str_eq(out,
		"Received: from client.example (rdns.example [192.0.2.1])\r\n"
		"\tby mx.example.org with ESMTPS (requiretls)\r\n"
		"\t(TLSv1.3 TLS_AES_256_GCM_SHA384) (dnssec iprev=secure spf=insecure)\r\n"
		"\tid Q1 for <rcpt@example.org>; Sat, 28 Nov 2026 12:00:00 +0000");
	ck_assert_uint_eq(need, strlen(out));
	/* (requiretls) comes after "with" and before "id" */
	char *w = strstr(out, " with "), *c = strstr(out, "(requiretls)"), *id = strstr(out, "\tid ");
	ck_assert(w && c && id && w < c && c < id);
	ck_assert_int_eq(ms_rtls_received_format(&r, out, 20, &need, why, sizeof(why)), MS_ERR_LIMIT);

	/* plaintext, no extras, authenticated */
	struct ms_rtls_received p = {0};
	p.version = 1;
	p.helo = "h";
	p.client_ip = "2001:db8::1";
	p.by = "mx";
	p.authenticated = 1;
	p.when = 0;
	ck_assert_int_eq(ms_rtls_received_format(&p, out, sizeof(out), NULL, NULL, 0), MS_OK);
	ck_assert_str_eq(out, "Received: from h ([2001:db8::1])\r\n\tby mx with ESMTPA\r\n\t; Thu, 1 Jan 1970 00:00:00 +0000");
	p.tls = 1;
	p.smtputf8 = 1;
	p.nlookups = 1;
	p.lookups = ls;
	ck_assert_int_eq(ms_rtls_received_format(&p, out, sizeof(out), NULL, NULL, 0), MS_OK);
	ck_assert_ptr_nonnull(strstr(out, "with UTF8SMTPSA\r\n\t(dnssec iprev=secure)"));
	/* injection attempts are refused */
	p.helo = "h\r\nX-Evil: 1";
	ck_assert_int_eq(ms_rtls_received_format(&p, out, sizeof(out), NULL, why, sizeof(why)), MS_ERR_INVALID);
	p.helo = "h";
	p.tls_cipher = "x) (requiretls";
	ck_assert_int_eq(ms_rtls_received_format(&p, out, sizeof(out), NULL, NULL, 0), MS_ERR_INVALID);
	p.tls_cipher = NULL;
	p.for_addr = "a>b";
	ck_assert_int_eq(ms_rtls_received_format(&p, out, sizeof(out), NULL, NULL, 0), MS_ERR_INVALID);
	p.for_addr = NULL;
	p.helo = NULL;
	ck_assert_int_eq(ms_rtls_received_format(&p, out, sizeof(out), NULL, NULL, 0), MS_ERR_INVALID);
}
END_TEST

/* ---- allocation failures ---------------------------------------------------- */

struct failing {
	int countdown; /* fail the allocation when this reaches 0 */
	int failed;
};

static void *f_alloc(void *user, size_t n)
{
	struct failing *f = user;
	if (f->countdown-- == 0) {
		f->failed = 1;
		return NULL;
	}
	return malloc(n);
}

static void *f_realloc(void *user, void *p, size_t n)
{
	struct failing *f = user;
	if (f->countdown-- == 0) {
		f->failed = 1;
		return NULL;
	}
	return realloc(p, n);
}

static void f_free(void *user, void *p)
{
	(void)user;
	free(p);
}

START_TEST(test_alloc_failures)
{
	/* Fail the k-th allocation for every k until a run needs no failure:
	 * each call must report MS_ERR_NOMEM (or succeed) and leak nothing
	 * (ASan/valgrind check the leaks). */
	static const char reply[] = "250-mx.example\r\n250-STARTTLS\r\n250-SIZE 100\r\n250 REQUIRETLS\r\n";
	static const char cmd[] = "MAIL FROM:<a@b.example> SIZE=10 ENVID=x+2B REQUIRETLS";
	int done = 0;
	for (int k = 0; k < 1000 && !done; k++) {
		struct failing f = {k, 0};
		struct ms_env env;
		memset(&env, 0, sizeof(env));
		env.version = MS_ENV_VERSION;
		env.user = &f;
		env.alloc = f_alloc;
		env.realloc = f_realloc;
		env.free = f_free;
		struct ms_rtls_ehlo *e = NULL;
		struct ms_rtls_mail *m = NULL;
		ms_status st = ms_rtls_ehlo_new(&env, &e);
		if (st == MS_OK) {
			st = ms_rtls_ehlo_parse(e, B(reply), 1, NULL, 0);
			ck_assert(st == MS_OK || st == MS_ERR_NOMEM);
			if (st == MS_OK)
				ck_assert(ms_rtls_ehlo_has(e, "REQUIRETLS"));
			else
				ck_assert_uint_eq(ms_rtls_ehlo_count(e), 0);
		} else {
			ck_assert_int_eq(st, MS_ERR_NOMEM);
			ck_assert_ptr_null(e);
		}
		ms_rtls_ehlo_free(e);
		st = ms_rtls_mail_new(&env, &m);
		if (st == MS_OK) {
			st = ms_rtls_mail_parse_command(m, B(cmd), NULL, 0);
			ck_assert(st == MS_OK || st == MS_ERR_NOMEM);
			if (st == MS_OK)
				ck_assert(ms_rtls_mail_requiretls(m));
			st = ms_rtls_mail_set(m, "BODY", "8BITMIME");
			ck_assert(st == MS_OK || st == MS_ERR_NOMEM);
		} else {
			ck_assert_int_eq(st, MS_ERR_NOMEM);
		}
		ms_rtls_mail_free(m);
		done = !f.failed;
	}
	ck_assert(done);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("requiretls-protocol");
	TCase *tc = tcase_create("protocol");
	tcase_add_loop_test(tc, test_ehlo_table, 0, sizeof(ehlo_cases) / sizeof(ehlo_cases[0]));
	tcase_add_test(tc, test_ehlo_discard_after_starttls);
	tcase_add_test(tc, test_ehlo_limits);
	tcase_add_loop_test(tc, test_mail_table, 0, sizeof(mail_cases) / sizeof(mail_cases[0]));
	tcase_add_test(tc, test_mail_typed_and_command);
	tcase_add_test(tc, test_mail_format_builder);
	tcase_add_test(tc, test_xtext);
	tcase_add_loop_test(tc, test_server_table, 0, sizeof(server_cases) / sizeof(server_cases[0]));
	tcase_add_test(tc, test_server_advertise);
	tcase_add_loop_test(tc, test_tlsreq_table, 0, sizeof(tlsreq_cases) / sizeof(tlsreq_cases[0]));
	tcase_add_test(tc, test_requirement);
	tcase_add_test(tc, test_received);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
