/*
 * regression_driver.c - replays saved inputs through a fuzz target without
 * libFuzzer, so `make test` (gcc, any sanitizer) re-checks every corpus file
 * and fixture on each run.
 *
 *   fuzz_<target>_replay [FILE_OR_DIR...]
 *
 * Without arguments it replays $WEFT_FUZZ_CORPUS/<target> (the saved corpus
 * of that target) and every file under $WEFT_FIXTURES. Prints "replay: N
 * inputs" and exits 0 unless an input crashes the target (which then shows
 * as the sanitizer's report or a signal).
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long replayed;

static void
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		LLVMFuzzerTestOneInput(buf, (size_t)n);
		replayed++;
	}
	free(buf);
	fclose(f);
}

static void
replay(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char child[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		replay(child);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	const char *corpus = getenv("WEFT_FUZZ_CORPUS"), *fixtures = getenv("WEFT_FIXTURES");
	const char *base = strrchr(argv[0], '/');
	char dir[4096], target[256];

	for (int i = 1; i < argc; i++)
		replay(argv[i]);
	if (argc == 1) {
		/* fuzz_<target>_replay -> <target> */
		snprintf(target, sizeof target, "%s", base ? base + 1 : argv[0]);
		if (strncmp(target, "fuzz_", 5) == 0)
			memmove(target, target + 5, strlen(target + 5) + 1);
		if (strlen(target) > 7 && strcmp(target + strlen(target) - 7, "_replay") == 0)
			target[strlen(target) - 7] = '\0';
		if (corpus != NULL) {
			snprintf(dir, sizeof dir, "%s/%s", corpus, target);
			replay(dir);
		}
		if (fixtures != NULL)
			replay(fixtures);
	}
	printf("replay: %ld inputs\n", replayed);
	return 0;
}
