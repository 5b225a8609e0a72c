/*
 * tlsq.c - TLS quality of one MX address, by handshakes with restricted
 * OpenSSL client settings (not by trusting the one session the probe
 * negotiated), and the certificate the server sends.  The judgements
 * follow the NCSC TLS guidelines (v2.1) that internet.nl applies:
 *   tls_version       TLS 1.0/1.1 accepted = fail (1.3/1.2 good)
 *   tls_ciphers       the TLS 1.2 suite chosen for a client offering
 *                     everything: AEAD + ECDHE/DHE good, CBC phase-out,
 *                     static RSA key exchange / RC4 / 3DES insufficient
 *   fs_params         the key exchange group: X25519/X448/P-256/P-384/P-521
 *                     good, finite-field < 3072 bits phase-out / < 2048 fail
 *   renegotiation_secure  RFC 5746 support (TLS 1.2)
 *   renegotiation_client  the server accepts a client-initiated renegotiation
 *   x_extended_master_secret  RFC 7627 (TLS 1.2)
 *   cert_pubkey       RSA < 2048 bits fail, < 3072 phase-out (info); EC
 *                     curves other than P-256/P-384/P-521/Ed25519/Ed448 fail
 *   cert_signature    SHA-1 or MD5 signature on the leaf = fail
 *   cert_hostmatch    the MX name matches the certificate
 *   tls_cipher_order  a second TLS 1.2 handshake offering the weakest suites
 *                     first: a server that follows the client to a weaker
 *                     suite than it chose before does not enforce its order
 *                     (the weak suite it accepted also counts for tls_ciphers)
 *   kex_hash_func     the hash of the TLS 1.2 ServerKeyExchange signature:
 *                     SHA-2 good, SHA-1/MD5 phase-out
 *   zero_rtt          the TLS 1.3 session ticket allows early data = fail
 * tls_compression cannot be offered by an OpenSSL 3 client built without
 * zlib (Debian's): the report says it was not tested (info).
 */
#include "check_int.h"

#include <mailsec/requiretls_smtp.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <string.h>

/* One STARTTLS handshake to addr:port with `ctx`; 1 done (ssl kept in *s),
 * 0 refused by TLS, -1 no STARTTLS session at all (why filled). */
static int handshake(struct ms_check_report *c, const char *addr, SSL_CTX *ctx, const char *sni,
		     struct ms_rtls_smtp **out, char *why, size_t whylen)
{
	struct ms_rtls_smtp_opts o = { .version = MS_RTLS_SMTP_OPTS_VERSION,
				       .timeout_ms = c->timeout_ms ? c->timeout_ms : 10000 };
	struct ms_rtls_smtp *s = NULL;
	struct ms_rtls_smtp_reply r;
	*out = NULL;
	if (ms_rtls_smtp_new(&c->env, &o, &s) != MS_OK)
		return -1;
	if (ms_rtls_smtp_connect(s, addr, c->port, why, whylen) != MS_OK ||
	    ms_rtls_smtp_greeting(s, &r, why, whylen) != MS_OK ||
	    ms_rtls_smtp_ehlo(s, "mailsec-check.invalid", &r, why, whylen) != MS_OK) {
		ms_rtls_smtp_free(s);
		return -1;
	}
	ms_status st = ms_rtls_smtp_starttls(s, ctx, sni, &r, why, whylen);
	if (st == MS_ERR_TLS) {
		ms_rtls_smtp_free(s);
		return 0;
	}
	if (st != MS_OK) {
		ms_rtls_smtp_free(s);
		return -1;
	}
	*out = s;
	return 1;
}

static SSL_CTX *client_ctx(int minv, int maxv, const char *ciphers)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return NULL;
	/* old protocol versions need security level 0 in OpenSSL 3 */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (!SSL_CTX_set_min_proto_version(ctx, minv) || !SSL_CTX_set_max_proto_version(ctx, maxv) ||
	    (ciphers && !SSL_CTX_set_cipher_list(ctx, ciphers))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void versions(struct ms_check_report *c, const char *item, const char *addr, const char *sni)
{
	static const struct { int v; const char *name; } old[] = {
		{ TLS1_VERSION, "TLSv1.0" }, { TLS1_1_VERSION, "TLSv1.1" } };
	char offered[64] = "", why[256];
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		SSL_CTX *ctx = client_ctx(old[i].v, old[i].v, "ALL:@SECLEVEL=0");
		struct ms_rtls_smtp *s = NULL;
		why[0] = '\0';
		int ok = ctx ? handshake(c, addr, ctx, sni, &s, why, sizeof(why)) : -1;
		ms_rtls_smtp_free(s);
		SSL_CTX_free(ctx);
		if (ok < 0) {
			check_add(c, "tls_version", "tls", item, CHECK_FAIL, NULL,
				  "%s probe impossible: %s", old[i].name, why);
			return;
		}
		if (ok == 1)
			snprintf(offered + strlen(offered), sizeof(offered) - strlen(offered), "%s%s",
				 offered[0] ? ", " : "", old[i].name);
	}
	if (offered[0])
		check_add(c, "tls_version", "tls", item, CHECK_FAIL,
			  "disable TLS 1.0 and 1.1 on the server (NCSC: insufficient)",
			  "accepts %s", offered);
	else
		check_add(c, "tls_version", "tls", item, CHECK_PASS, NULL,
			  "TLS 1.0 and 1.1 refused");
}

/* NCSC category of a TLS 1.2 suite. */
static const char *cipher_category(const SSL_CIPHER *ci, enum check_status *st)
{
	int kx = SSL_CIPHER_get_kx_nid(ci), cn = SSL_CIPHER_get_cipher_nid(ci);
	int aead = SSL_CIPHER_is_aead(ci);
	if (kx == NID_kx_rsa || cn == NID_rc4 || cn == NID_des_ede3_cbc || cn == NID_undef) {
		*st = CHECK_FAIL;
		return "insufficient";
	}
	if (!aead) {
		*st = CHECK_INFO;
		return "phase-out";
	}
	*st = CHECK_PASS;
	return kx == NID_kx_ecdhe ? "good" : "sufficient";
}

static int rank(const char *cat)
{
	return !strcmp(cat, "good") ? 0 : !strcmp(cat, "sufficient") ? 1 : !strcmp(cat, "phase-out") ? 2 : 3;
}

/* Weakest suites first: CBC without forward secrecy, then CBC with it. */
#define WORST_FIRST "AES128-SHA:AES256-SHA:DES-CBC3-SHA:ECDHE-RSA-AES128-SHA:" \
	"ECDHE-ECDSA-AES128-SHA:DHE-RSA-AES128-SHA:ECDHE-RSA-AES128-SHA256:" \
	"ECDHE-ECDSA-AES128-SHA256:ALL:@SECLEVEL=0"

static void cipher_order(struct ms_check_report *c, const char *item, const char *addr,
			 const char *sni, const char *first_cat, const char *first_name)
{
	char why[256] = "";
	SSL_CTX *ctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, WORST_FIRST);
	struct ms_rtls_smtp *s = NULL;
	int ok = ctx ? handshake(c, addr, ctx, sni, &s, why, sizeof(why)) : -1;
	if (ok != 1) {
		check_add(c, "tls_cipher_order", "tls", item, ok == 0 ? CHECK_PASS : CHECK_FAIL, NULL,
			  ok == 0 ? "weak suites refused" : "probe impossible: %s", why);
		SSL_CTX_free(ctx);
		ms_rtls_smtp_free(s);
		return;
	}
	const SSL_CIPHER *ci = SSL_get_current_cipher(ms_rtls_smtp_ssl(s));
	enum check_status st;
	const char *cat = cipher_category(ci, &st);
	if (st != CHECK_PASS)
		check_add(c, "tls_ciphers", "tls", item, st,
			  st == CHECK_FAIL ? "remove static-RSA, 3DES and RC4 suites" : NULL,
			  "also accepts %s (%s)", SSL_CIPHER_get_name(ci), cat);
	int follows = rank(cat) > rank(first_cat);
	check_add(c, "tls_cipher_order", "tls", item, follows ? CHECK_FAIL : CHECK_PASS,
		  follows ? "make the server choose by its own order (e.g. Postfix "
			    "tls_preempt_cipherlist = yes)" : NULL,
		  follows ? "follows the client's order: %s (%s) instead of %s"
			  : "server order kept: %s%.0s%.0s", SSL_CIPHER_get_name(ci), cat, first_name);
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
}

/* 0-RTT (RFC 8446 s2.3, replayable): read the TLS 1.3 session ticket after
 * an EHLO and see whether it allows early data. */
static void zero_rtt(struct ms_check_report *c, const char *item, const char *addr, const char *sni)
{
	char why[256] = "";
	SSL_CTX *ctx = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION, NULL);
	struct ms_rtls_smtp *s = NULL;
	struct ms_rtls_smtp_reply r;
	if (ctx)
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	int ok = ctx ? handshake(c, addr, ctx, sni, &s, why, sizeof(why)) : -1;
	if (ok == 1 && ms_rtls_smtp_ehlo(s, "mailsec-check.invalid", &r, why, sizeof(why)) == MS_OK) {
		SSL_SESSION *sess = SSL_get1_session(ms_rtls_smtp_ssl(s));
		uint32_t early = sess ? SSL_SESSION_get_max_early_data(sess) : 0;
		SSL_SESSION_free(sess);
		check_add(c, "zero_rtt", "tls", item, early ? CHECK_FAIL : CHECK_PASS,
			  early ? "disable TLS 1.3 early data (0-RTT) on the server" : NULL,
			  early ? "0-RTT allowed (up to %u bytes of replayable early data)"
				: "0-RTT not offered%.0u", early);
	} else if (ok == 0) {
		check_add(c, "zero_rtt", "tls", item, CHECK_PASS, NULL, "no TLS 1.3: no 0-RTT");
	} else {
		check_add(c, "zero_rtt", "tls", item, CHECK_FAIL, NULL, "probe impossible: %s", why);
	}
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
}

static void tls12(struct ms_check_report *c, const char *item, const char *addr, const char *sni)
{
	char why[256] = "";
	SSL_CTX *ctx = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, "ALL:@SECLEVEL=0");
	struct ms_rtls_smtp *s = NULL;
	int ok = ctx ? handshake(c, addr, ctx, sni, &s, why, sizeof(why)) : -1;
	if (ok != 1) {
		/* a TLS 1.3-only server: the 1.2 properties do not apply */
		if (ok == 0)
			check_add(c, "tls_ciphers", "tls", item, CHECK_PASS, NULL,
				  "TLS 1.2 refused: TLS 1.3 suites only (all good)");
		else
			check_add(c, "tls_ciphers", "tls", item, CHECK_FAIL, NULL,
				  "TLS 1.2 probe impossible: %s", why);
		SSL_CTX_free(ctx);
		return;
	}
	SSL *ssl = ms_rtls_smtp_ssl(s);
	const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
	enum check_status cst;
	const char *cat = cipher_category(ci, &cst);
	check_add(c, "tls_ciphers", "tls", item, cst,
		  cst == CHECK_FAIL ? "offer only ECDHE/DHE AEAD suites (NCSC good/sufficient)" : NULL,
		  "TLS 1.2 suite chosen for a client offering all: %s (%s)", SSL_CIPHER_get_name(ci), cat);
	char first_cat[16], first_name[64];
	snprintf(first_cat, sizeof(first_cat), "%s", cat);
	snprintf(first_name, sizeof(first_name), "%s", SSL_CIPHER_get_name(ci));
	int hash = NID_undef;
	if (SSL_get_peer_signature_nid(ssl, &hash) && hash != NID_undef) {
		int sha2 = hash == NID_sha256 || hash == NID_sha384 || hash == NID_sha512;
		check_add(c, "kex_hash_func", "tls", item, sha2 ? CHECK_PASS : CHECK_WARN,
			  sha2 ? NULL : "sign the key exchange with SHA-256 or better",
			  "key exchange signed with %s", OBJ_nid2sn(hash));
	} else {
		check_add(c, "kex_hash_func", "tls", item, CHECK_INFO, NULL,
			  "no key exchange signature seen");
	}
	/* key exchange group */
	EVP_PKEY *tmp = NULL;
	if (SSL_get_peer_tmp_key(ssl, &tmp) && tmp) {
		int bits = EVP_PKEY_get_bits(tmp), id = EVP_PKEY_get_base_id(tmp);
		int ff = id == EVP_PKEY_DH;
		enum check_status st = ff ? (bits < 2048 ? CHECK_FAIL : bits < 3072 ? CHECK_INFO : CHECK_PASS)
					  : CHECK_PASS;
		check_add(c, "fs_params", "tls", item, st,
			  st == CHECK_FAIL ? "use ECDHE (X25519, P-256) or DH groups of 3072 bits" : NULL,
			  "%s key exchange, %d bits%s", ff ? "finite-field DHE" : OBJ_nid2sn(id), bits,
			  ff && bits < 3072 ? " (NCSC: phase-out below 3072)" : "");
		EVP_PKEY_free(tmp);
	} else {
		check_add(c, "fs_params", "tls", item,
			  SSL_CIPHER_get_kx_nid(ci) == NID_kx_rsa ? CHECK_FAIL : CHECK_INFO,
			  NULL, "no ephemeral key exchange parameters seen");
	}
	int secreneg = SSL_get_secure_renegotiation_support(ssl);
	check_add(c, "renegotiation_secure", "tls", item, secreneg ? CHECK_PASS : CHECK_FAIL,
		  secreneg ? NULL : "enable secure renegotiation (RFC 5746)",
		  "secure renegotiation %ssupported", secreneg ? "" : "not ");
	int ems = SSL_get_extms_support(ssl);
	check_add(c, "x_extended_master_secret", "tls", item, ems == 1 ? CHECK_PASS : CHECK_WARN,
		  ems == 1 ? NULL : "enable the extended master secret (RFC 7627)",
		  "extended master secret %s", ems == 1 ? "used" : "not supported");
	/* client-initiated renegotiation: a server that answers our
	 * HelloRequest-less ClientHello renegotiates on demand (DoS lever). */
	struct ms_rtls_smtp_reply rr;
	int reneg = 0;
	/* the renegotiation runs inside the next exchange: a NOOP that comes
	 * answered (any code) with the new handshake finished means it was
	 * accepted */
	if (ms_rtls_smtp_ehlo(s, "mailsec-check.invalid", &rr, why, sizeof(why)) == MS_OK &&
	    SSL_renegotiate(ssl) == 1 &&
	    ms_rtls_smtp_command(s, "NOOP", &rr, why, sizeof(why)) == MS_OK)
		reneg = rr.code > 0 && !SSL_renegotiate_pending(ssl);
	check_add(c, "renegotiation_client", "tls", item, reneg ? CHECK_FAIL : CHECK_PASS,
		  reneg ? "refuse client-initiated renegotiation" : NULL,
		  "client-initiated renegotiation %s", reneg ? "accepted" : "refused");
	ms_rtls_smtp_free(s);
	SSL_CTX_free(ctx);
	cipher_order(c, item, addr, sni, first_cat, first_name);
}

void check_tls_quality(struct ms_check_report *c, const char *item, const char *addr, const char *sni)
{
	versions(c, item, addr, sni);
	tls12(c, item, addr, sni);
	zero_rtt(c, item, addr, sni);
	check_add(c, "tls_compression", "tls", item, CHECK_INFO, NULL,
		  "not tested: an OpenSSL 3 client without zlib cannot offer TLS compression");
}

/* The leaf certificate's own properties (cert_pubkey, cert_signature,
 * cert_hostmatch); trust is judged by the caller (ms_rtls_verify_chain). */
void check_cert(struct ms_check_report *c, const char *item, const char *host,
		const struct ms_dane_cert *chain, size_t n)
{
	if (n == 0)
		return;
	const unsigned char *p = chain[0].der;
	X509 *x = d2i_X509(NULL, &p, (long)chain[0].len);
	if (x == NULL) {
		check_add(c, "cert_pubkey", "tls", item, CHECK_FAIL, NULL, "leaf certificate unparsable");
		return;
	}
	EVP_PKEY *k = X509_get0_pubkey(x);
	int id = k ? EVP_PKEY_get_base_id(k) : 0, bits = k ? EVP_PKEY_get_bits(k) : 0;
	char curve[64] = "";
	if (id == EVP_PKEY_EC)
		EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof(curve), NULL);
	int good_curve = !strcmp(curve, "prime256v1") || !strcmp(curve, "secp384r1") ||
			 !strcmp(curve, "secp521r1") || !strcmp(curve, "P-256") ||
			 !strcmp(curve, "P-384") || !strcmp(curve, "P-521");
	enum check_status st = CHECK_PASS;
	char what[96];
	if (id == EVP_PKEY_RSA) {
		st = bits < 2048 ? CHECK_FAIL : bits < 3072 ? CHECK_INFO : CHECK_PASS;
		snprintf(what, sizeof(what), "RSA %d bits%s", bits, st == CHECK_INFO ? " (NCSC: phase-out)" : "");
	} else if (id == EVP_PKEY_EC) {
		st = good_curve ? CHECK_PASS : CHECK_FAIL;
		snprintf(what, sizeof(what), "EC %s", curve[0] ? curve : "unknown curve");
	} else if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) {
		snprintf(what, sizeof(what), "%s", OBJ_nid2sn(id));
	} else {
		st = CHECK_FAIL;
		snprintf(what, sizeof(what), "%s %d bits", id ? OBJ_nid2sn(id) : "unknown key", bits);
	}
	check_add(c, "cert_pubkey", "tls", item, st,
		  st == CHECK_FAIL ? "use an RSA key of 2048+ bits or an ECDSA P-256/P-384 key" : NULL,
		  "public key %s", what);
	int md = NID_undef, pk = NID_undef;
	OBJ_find_sigid_algs(X509_get_signature_nid(x), &md, &pk);
	int weak = md == NID_sha1 || md == NID_md5 || md == NID_md4;
	check_add(c, "cert_signature", "tls", item, weak ? CHECK_FAIL : CHECK_PASS,
		  weak ? "reissue the certificate with a SHA-256 signature" : NULL,
		  "signed with %s", OBJ_nid2sn(X509_get_signature_nid(x)));
	int match = X509_check_host(x, host, 0, 0, NULL) == 1;
	check_add(c, "cert_hostmatch", "tls", item, match ? CHECK_PASS : CHECK_FAIL,
		  match ? NULL : "serve a certificate whose subjectAltName names the MX host",
		  "%s %s the certificate", host, match ? "matches" : "does not match");
	X509_free(x);
}
