/* store.h - the store handle shared by store.c, store_sqlite.c and sts.c. */
#ifndef STS_STORE_H
#define STS_STORE_H

#include "sts_internal.h"

struct ms_sts_store {
	struct ms_env env;
	struct ms_sts_store_ops ops;
	void *self;
};

ms_status sts_store_del(struct ms_sts_store *s, const char *domain);
/* ms_sts_store_get on the library's own (current-version) entry. */
ms_status sts_store_get_full(struct ms_sts_store *s, const char *domain,
			    struct ms_sts_entry *e, uint8_t *polbuf,
			    size_t polbufsize, int *found);
ms_status sts_store_list(struct ms_sts_store *s,
			 void (*cb)(void *user, const struct ms_sts_entry *e),
			 void *user);

/* The policy cache in the shape of mailsec/store.h (store_sqlite.c,
 * store_pg.c): query const char *domain (NULL: all), rec struct ms_sts_entry. */
struct ms_store_ops;
extern const struct ms_store_ops sts_store_sqlite_ops;
extern const struct ms_store_ops sts_store_pg_ops;

#endif
