/* rtls_store.h - the record and key types of the recipient-domain store in
 * the shape of mailsec/store.h (store_pg.c). */
#ifndef RTLS_STORE_H
#define RTLS_STORE_H

#include <stdint.h>

/* One observation (put/batch): what the server of `domain` offered at `now`. */
struct rtls_store_obs {
	const char *account;
	const char *domain;
	int starttls;
	int requiretls;
	int64_t now;
};

/* The key of get and del. */
struct rtls_store_key {
	const char *account;
	const char *domain;
};

/* The store's two backends in that shape (store_sqlite.c, store_pg.c). */
struct ms_store_ops;
extern const struct ms_store_ops rtls_store_sqlite_ops;
extern const struct ms_store_ops rtls_store_pg_ops;

#endif
