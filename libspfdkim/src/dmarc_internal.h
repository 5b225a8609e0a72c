/* dmarc_internal.h - layouts shared by the DMARC source files. */
#ifndef MS_DMARC_INTERNAL_H
#define MS_DMARC_INTERNAL_H

#include "ms_common.h"
#include "mailsec/dmarc.h"

#define DMARC_RECORD_MAX 4096
#define DMARC_MAX_URIS 16

struct ms_dmarc_record {
	struct ms_env env;
	enum ms_dmarc_policy p, sp, np;
	enum ms_dmarc_align adkim, aspf;
	unsigned pct;
	int testing;
	char psd;
	char *rua[DMARC_MAX_URIS], *ruf[DMARC_MAX_URIS];
	size_t nrua, nruf;
	char *warnings;
};

#endif
