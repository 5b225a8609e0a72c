/*
 * dmarcrep_internal.h - shared pieces of the DMARC aggregate report code
 * (libreports/src/dmarcrep_*.c): the row set that aggregates identical
 * rows, the report handle, the store handle.
 */
#ifndef DMARCREP_INTERNAL_H
#define DMARCREP_INTERNAL_H

#include "mailsec/dmarc_report.h"
#include "ms_common.h"

/* Copy a string into a fixed array; 0 when it does not fit. */
int dmarcrep_copy(char *dst, size_t dstlen, const char *src);

/* The DKIM results of a row in one stored column ("result domain selector"
 * lines) and back (0: malformed); shared by the SQLite and PostgreSQL stores. */
void dmarcrep_dkim_text(const struct ms_dmarcrep_row *r, char *buf, size_t len);
int dmarcrep_dkim_parse(struct ms_dmarcrep_row *r, const char *t);

/*
 * Rows aggregated by value: rows equal in every field but `count` (and,
 * with `report_key`, but `hour` and `policy_domain` too) share one entry.
 * Open addressing over indices; rows are kept in first-seen order.
 */
struct dmarcrep_rowset {
	const struct ms_env *env;
	int report_key;
	struct ms_dmarcrep_row *rows;
	size_t n, cap;
	size_t *slots;       /* index + 1, 0: empty */
	size_t nslots;
	size_t max;
};
void dmarcrep_rowset_init(struct dmarcrep_rowset *s, const struct ms_env *env,
			  int report_key, size_t max);
void dmarcrep_rowset_clear(struct dmarcrep_rowset *s);
void dmarcrep_rowset_free(struct dmarcrep_rowset *s);
/* Add row->count to the equal row (merge = 1) or append (merge = 0). */
ms_status dmarcrep_rowset_add(struct dmarcrep_rowset *s, const struct ms_dmarcrep_row *row,
			      int merge, char *why, size_t whylen);

struct ms_dmarcrep_report {
	struct ms_env env;
	struct ms_dmarcrep_meta meta;
	struct dmarcrep_rowset rows;
};
/* A report with `meta` as given (not checked) and no rows. */
ms_status dmarcrep_report_alloc(const struct ms_env *env, const struct ms_dmarcrep_meta *meta,
				struct ms_dmarcrep_report **out, char *why, size_t whylen);
ms_status dmarcrep_meta_check(const struct ms_dmarcrep_meta *m, int need_id,
			      char *why, size_t whylen);

struct ms_dmarcrep_store {
	struct ms_env env;
	struct ms_dmarcrep_store_ops ops;
	void *impl;
};
ms_status dmarcrep_store_batch(struct ms_dmarcrep_store *s, const struct ms_dmarcrep_row *rows,
			       size_t n, char *why, size_t whylen);

/* Keyword lists of RFC 7489 Appendix C. */
int dmarcrep_kw(const char *s, const char *const *list);
extern const char *const dmarcrep_disposition_kw[];
extern const char *const dmarcrep_eval_kw[];
extern const char *const dmarcrep_reason_kw[];
extern const char *const dmarcrep_spf_kw[];
extern const char *const dmarcrep_scope_kw[];
extern const char *const dmarcrep_dkim_kw[];
extern const char *const dmarcrep_policy_kw[];

/* libxml2's global parser state, initialised once (thread-safe). */
void dmarcrep_xml_init(void);

#endif
