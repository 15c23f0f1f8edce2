/*
 * replay.c: a main() for a fuzz target built without libFuzzer: every file
 * of the directories (or the files) named on the command line goes through
 * LLVMFuzzerTestOneInput() once. The target's own checks abort on a bug; a
 * clean run prints how many inputs passed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (1024 * 1024)

static int
run_file(const char *path)
{
    static uint8_t buf[INPUT_MAX];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        (void)fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    n = fread(buf, 1, sizeof buf, f);
    (void)fclose(f);
    /* A copy of exactly n bytes, so reading past the input is caught by the sanitizers. */
    uint8_t *copy = malloc(n ? n : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
    return 0;
}

/* A file, or every file of a directory (in name order, so a failure is reproducible). */
static int
run_path(const char *path, int *count)
{
    struct dirent **names;
    struct stat st;
    char child[4096];
    int n, rc = 0;

    if (stat(path, &st) != 0) {
        (void)fprintf(stderr, "replay: no such input %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    if ((n = scandir(path, &names, NULL, alphasort)) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && names[i]->d_name[0] != '.') {
            if ((size_t)snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name) >=
                    sizeof child ||
                stat(child, &st) != 0)
                rc = -1;
            else if (S_ISREG(st.st_mode) && (rc = run_file(child)) == 0)
                (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    int count = 0;

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count) != 0)
            return 1;
    (void)printf("replay: %d inputs, no finding\n", count);
    return count > 0 ? 0 : 1;
}
