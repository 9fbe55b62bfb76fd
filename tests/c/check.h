/* What the C test programs share: CHECK, which counts checks and failures and prints the last
 * error of a failed one, and reading a test program from PROGRAMS_DIR. */
#ifndef PVM_TESTS_CHECK_H
#define PVM_TESTS_CHECK_H

#include "polkavm_ffi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int checks_run;

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        checks_run++;                                                                            \
        if (!(cond)) {                                                                           \
            check_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; pvm_last_error: \"%s\"\n", __FILE__,      \
                    __LINE__, #cond, pvm_last_error());                                          \
        }                                                                                        \
    } while (0)

#define CHECK_ERROR_CONTAINS(text) CHECK(strstr(pvm_last_error(), (text)) != NULL)

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)size);
    if (data && fread(data, 1, (size_t)size, file) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(file);
    *len = (size_t)size;
    return data;
}

/* The test program `name` (a file of PROGRAMS_DIR, the one argument) with line-buffered stdout:
 * the sandbox processes polkavm forks must not inherit unflushed output. Exits with 2 on a wrong
 * command line or a missing file. */
static uint8_t *read_program(int argc, char **argv, const char *name, size_t *len) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PROGRAMS_DIR\n", argv[0]);
        exit(2);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", argv[1], name);
    uint8_t *program = read_file(path, len);
    if (!program) {
        fprintf(stderr, "cannot read %s (run `make programs`)\n", path);
        exit(2);
    }
    return program;
}

#endif
