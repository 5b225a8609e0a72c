/*
 * dkim_internal.h - internal pieces of the DKIM code in libspfdkim: the
 * tag-list parser, signature and key-record parsers, canonicalizers and the
 * streaming message splitter.  Nothing here is exported; the fuzz targets and
 * unit tests reach it through the static core archive.
 */
#ifndef DKIM_INTERNAL_H
#define DKIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "mailsec/dkim.h"
#include "ms_common.h"

/* ---- tag lists (RFC 6376 s3.2) ----------------------------------------- */

#define DKIM_MAX_TAGS 64

struct dkim_tag {
	const uint8_t *name;
	size_t namelen;
	const uint8_t *val; /* value, FWS inside kept, outer FWS trimmed */
	size_t vallen;
	size_t vstart, vend; /* offsets in the input: after '=' up to ';'/end */
};

struct dkim_taglist {
	struct dkim_tag tag[DKIM_MAX_TAGS];
	size_t n;
};

/* Parse a tag list; MS_ERR_PARSE with a reason on a syntax error or a
 * duplicate tag, MS_ERR_LIMIT past DKIM_MAX_TAGS. */
ms_status dkim_taglist_parse(const uint8_t *buf, size_t len,
			     struct dkim_taglist *out, char *why, size_t whylen);
/* The tag named `name` or NULL. */
const struct dkim_tag *dkim_tag_get(const struct dkim_taglist *tl, const char *name);

/* Base64 decoding that skips FWS (b=, bh=, p=).  Returns decoded length or
 * -1 on bad characters/padding/too long. */
long dkim_b64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t outmax);
/* Encode; out needs 4*((len+2)/3)+1 bytes; NUL-terminated.  Returns length. */
size_t dkim_b64_encode(const uint8_t *in, size_t len, char *out);

/* ---- DKIM-Signature (RFC 6376 s3.5) ------------------------------------ */

#define DKIM_MAX_H 128       /* names in h= */
#define DKIM_MAX_SIGLEN 1024 /* decoded b= (an 8192-bit RSA signature) */

struct dkim_sigparams {
	enum ms_dkim_algorithm alg;
	enum ms_dkim_canon hcanon, bcanon;
	char domain[256];
	char selector[256];
	char identity[512];     /* i= or "@d" */
	char idomain[256];      /* domain part of i= */
	int64_t t, x, l;        /* -1 if absent */
	uint8_t bh[64];
	size_t bhlen;
	uint8_t b[DKIM_MAX_SIGLEN];
	size_t blen;
	char bprefix[9];
	/* h= names, pointing into hnames */
	char hnames[2048];
	const char *h[DKIM_MAX_H];
	size_t hlen[DKIM_MAX_H];
	size_t nh;
	size_t b_vstart, b_vend; /* span of b='s value inside the field value */
};

/*
 * Parse the value of a DKIM-Signature field (what follows the colon).  On
 * error returns MS_ERR_PARSE (or UNSUPPORTED for an unknown a=, c=, q=),
 * with the reason in `why`; the domain and selector are still filled in if
 * they were readable, for reporting.
 */
ms_status dkim_sig_parse(const uint8_t *val, size_t len, struct dkim_sigparams *p,
			 char *why, size_t whylen);

/* Domain-name syntax check for d= and i= domains (RFC 6376 s3.5). */
int dkim_domain_ok(const char *d, size_t len);

/* ---- key records (RFC 6376 s3.6.1, RFC 8463 s4) ------------------------ */

struct dkim_keyrec {
	int k_ed25519;       /* k=ed25519 (else rsa) */
	int h_sha1, h_sha256;/* h= lists (both 1 when h= absent) */
	int testing;         /* t=y */
	int strict;          /* t=s */
	int revoked;         /* p= empty */
	const uint8_t *p;    /* base64 value inside the record */
	size_t plen;
};

/* Parse a key record; MS_ERR_PARSE / MS_ERR_UNSUPPORTED with a reason. */
ms_status dkim_keyrec_parse(const uint8_t *buf, size_t len, struct dkim_keyrec *kr,
			    char *why, size_t whylen);
/* Decode the public key of a parsed record: RSA in SubjectPublicKeyInfo or
 * bare PKCS#1 RSAPublicKey form; Ed25519 raw 32 bytes (or SPKI).  Returns
 * a new EVP_PKEY or NULL with a reason. */
EVP_PKEY *dkim_pubkey_decode(const struct dkim_keyrec *kr, char *why, size_t whylen);

/* ---- canonicalization (RFC 6376 s3.4) ---------------------------------- */

typedef void (*dkim_sink_fn)(void *user, const uint8_t *p, size_t n);

/* Streaming body canonicalizer.  Output goes to `sink` in blocks. */
struct dkim_bodycanon {
	enum ms_dkim_canon canon;
	dkim_sink_fn sink;
	void *user;
	unsigned pending_crlf; /* line ends not yet emitted (maybe trailing) */
	int cr;                /* a CR is pending (LF may follow) */
	int wsp;               /* relaxed: a WSP run is pending in this line */
	int content;           /* some content was emitted */
	size_t olen;
	uint8_t out[16384];
};

void dkim_bodycanon_init(struct dkim_bodycanon *c, enum ms_dkim_canon canon,
			 dkim_sink_fn sink, void *user);
void dkim_bodycanon_update(struct dkim_bodycanon *c, const uint8_t *p, size_t n);
void dkim_bodycanon_final(struct dkim_bodycanon *c);
/* Tests and fuzzing: turn the relaxed vector path off (0) or back on, to
 * check the scalar path that CPUs without AVX2 run.  Not thread-safe. */
void dkim_bodycanon_vector(int on);

/*
 * Canonicalize one header field (name ':' value, CRLF folding inside, no
 * final CRLF) into `out` (bounded; MS_ERR_LIMIT), with a final CRLF if
 * `crlf`.
 */
ms_status dkim_headercanon(enum ms_dkim_canon canon, const uint8_t *f, size_t len,
			   int crlf, struct ms_buf *out);

/* ---- message splitter ---------------------------------------------------- */

struct dkim_field {
	size_t off, len;     /* whole field in hdr, without the final CRLF */
	size_t namelen;      /* name without trailing WSP */
};

struct dkim_msg {
	const struct ms_env *env;
	struct ms_buf hdr;        /* header block, line ends normalised to CRLF */
	struct dkim_field *fields;
	size_t nfields, capfields;
	int in_body;
	int line_start;           /* at the start of a header line */
	int cr;                   /* CR pending in the header */
	size_t cur;               /* start of the field being collected */
	int have_cur;
	int overflow;             /* limit hit: reason kept */
	int nomem;                /* the failure was an allocation, not a limit */
	char err[128];
};

void dkim_msg_init(struct dkim_msg *m, const struct ms_env *env);
void dkim_msg_free(struct dkim_msg *m);
/*
 * Consume bytes; while in the header, fields are collected.  Returns the
 * number of bytes consumed by the header (the remaining bytes are body) and
 * sets m->in_body when the separator line was seen.  -1 on a limit.
 */
long dkim_msg_feed_header(struct dkim_msg *m, const uint8_t *p, size_t n);
/* End of input while still in the header: close the current field. */
void dkim_msg_end_header(struct dkim_msg *m);
/* Whether field i has the given name (case-insensitive). */
int dkim_field_is(const struct dkim_msg *m, size_t i, const char *name, size_t nlen);

/* ---- body hashing shared by signer and verifier ------------------------ */

struct dkim_bodyhash {
	enum ms_dkim_canon canon;
	const EVP_MD *md;
	int64_t limit;          /* l= or -1 */
	uint64_t total;         /* canonical bytes seen */
	uint64_t hashed;
	EVP_MD_CTX *ctx;
	struct dkim_bodycanon bc;
	uint8_t digest[64];
	unsigned dlen;
	int done;
};

void dkim_bodyhash_sink(void *user, const uint8_t *p, size_t n);

/* Header hash: canonicalize the selected fields per h= and the signature
 * field (with b= emptied), SHA-256/SHA-1 it into digest. */
ms_status dkim_header_digest(const struct dkim_msg *m, const struct dkim_sigparams *sp,
			     const EVP_MD *md, const uint8_t *sigfield, size_t siglen,
			     size_t del_off, size_t del_len,
			     uint8_t *digest, unsigned *dlen, char *why, size_t whylen);

/* Select fields per h= (bottom-up, RFC 6376 s5.4.2): idx[k] is the field
 * index for h[k], or SIZE_MAX for an oversigned (absent) name. */
void dkim_select_fields(const struct dkim_msg *m, const char *const *h,
			const size_t *hlen, size_t nh, size_t *idx);

/* RSA PKCS#1 v1.5 (with `md`) / Ed25519 verification over a header digest. */
int dkim_verify_digest(EVP_PKEY *key, enum ms_dkim_algorithm alg, const EVP_MD *md,
		       const uint8_t *digest, size_t dlen,
		       const uint8_t *sig, size_t siglen);

/* Key struct shared by signer and keygen. */
struct ms_dkim_key {
	const struct ms_env *envp;
	struct ms_env env;
	EVP_PKEY *pkey;
	enum ms_dkim_algorithm alg;
	unsigned bits;
};

#endif
