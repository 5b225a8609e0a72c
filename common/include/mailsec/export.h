/**
 * @file mailsec/export.h
 * @brief The one export macro every mailsec public header uses.
 *
 * MS_API marks a function of the public ABI.  Building a library (its
 * meson file defines MS_<LIB>_BUILDING; MS_BUILDING_LIBRARY does the same
 * for a new library) it gives default visibility, which -fvisibility=hidden
 * would otherwise take away; the version script of each library then
 * decides what is exported.  For callers it expands to nothing.  An
 * attribute on a declaration of another library's function is harmless:
 * visibility only matters where the function is defined.
 *
 * The per-header names (MS_DNS_API, MS_DANE_API, ...) are aliases of
 * MS_API, kept so that existing declarations need no change.
 */
#ifndef MAILSEC_EXPORT_H
#define MAILSEC_EXPORT_H

#if defined(__GNUC__) && (defined(MS_BUILDING_LIBRARY) || defined(MS_DNS_BUILDING) || \
	defined(MS_DANE_BUILDING) || defined(MS_STS_BUILDING) || \
	defined(MS_RTLS_BUILDING) || defined(MS_SPFDKIM_BUILDING))
#define MS_API __attribute__((visibility("default")))
#else
#define MS_API
#endif

#endif /* MAILSEC_EXPORT_H */
