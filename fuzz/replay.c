/*
 * replay.c - runs a libFuzzer target over the files of a corpus directory,
 * so every fuzz target's corpus (including regression inputs for past
 * findings) is replayed as an ordinary test under ASan/UBSan and valgrind.
 * Usage: fuzz-NAME DIR|FILE...   Exit 0 when every input ran, 1 otherwise.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	/* Fuzz inputs are small; cap at 16 MiB to stay bounded. */
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= (16u << 20))
				break;
			uint8_t *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf == NULL)
		return -1;
	/* Hand over an exactly sized copy so ASan sees reads past the end. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int ran = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]) != 0;
			ran++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (d == NULL) {
			perror(argv[i]);
			return 1;
		}
		char **names = NULL;
		size_t nnames = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char **nn = realloc(names, (nnames + 1) * sizeof(*names));
			if (nn == NULL)
				break;
			names = nn;
			names[nnames++] = strdup(e->d_name);
		}
		closedir(d);
		qsort(names, nnames, sizeof(*names), cmp);
		for (size_t k = 0; k < nnames; k++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]);
			failed += run_file(path) != 0;
			ran++;
			free(names[k]);
		}
		free(names);
	}
	printf("%d passed, %d failed\n", ran - failed, failed);
	return (failed || ran == 0) ? 1 : 0;
}
