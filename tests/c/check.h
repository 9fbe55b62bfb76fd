/* What the C test programs share: CHECK, which counts checks and failures and prints the last
 * error of a failed one, and reading a test program from a file. */
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

#endif
