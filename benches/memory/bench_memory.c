/* Memory bandwidth through the C ABI against memcpy (benches/memory/run.py drives it).
 *   bench_memory PROGRAM BACKEND ITERATIONS
 * PROGRAM is tests/programs/framebuffer.pvmasm assembled (1 MiB of rw data). Prints one line per
 * operation, "NAME MB/s", each over ITERATIONS copies of a 640x400 BGRA frame (1,024,000 bytes). */
#define _POSIX_C_SOURCE 200809L
#include "polkavm_ffi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME (640u * 400u * 4u)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void report(const char *name, double seconds, long iterations) {
    printf("%s %.1f\n", name, (double)FRAME * (double)iterations / seconds / 1e6);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s PROGRAM BACKEND ITERATIONS\n", argv[0]);
        return 2;
    }
    long iterations = atol(argv[3]);
    FILE *file = fopen(argv[1], "rb");
    if (!file) return 2;
    static uint8_t blob[65536];
    size_t blob_len = fread(blob, 1, sizeof blob, file);
    fclose(file);
    PvmEngine engine = strcmp(argv[2], "interpreter") == 0 ? pvm_engine_new_interpreter() : pvm_engine_new();
    PvmModule module = pvm_module_new(engine, blob, blob_len);
    PvmInstance vm = pvm_instance_new(engine, module);
    if (!vm) {
        fprintf(stderr, "%s\n", pvm_last_error());
        return 1;
    }
    uint32_t base = pvm_module_memory_info(module).rw_data_address;
    uint8_t *host = malloc(FRAME), *other = malloc(FRAME), *rgb = malloc(FRAME);
    memset(host, 7, FRAME);
    memset(other, 9, FRAME);
    /* Touch everything once (guest pages included) before timing. */
    if (pvm_instance_write_memory(vm, base, host, FRAME) != 0 || pvm_instance_read_memory(vm, base, other, FRAME) != 0) {
        fprintf(stderr, "%s\n", pvm_last_error());
        return 1;
    }

    double start = now();
    for (long i = 0; i < iterations; i++) {
        memcpy(other, host, FRAME);
        __asm__ volatile("" : : "r"(other) : "memory"); /* keep every copy */
    }
    report("memcpy", now() - start, iterations);

    start = now();
    for (long i = 0; i < iterations; i++) pvm_instance_read_memory(vm, base, host, FRAME);
    report("read", now() - start, iterations);

    start = now();
    for (long i = 0; i < iterations; i++) pvm_instance_write_memory(vm, base, host, FRAME);
    report("write", now() - start, iterations);

    start = now();
    for (long i = 0; i < iterations; i++)
        pvm_instance_read_framebuffer(vm, base, 640, 400, 640 * 4, PVM_PIXEL_FORMAT_BGRA32, rgb, FRAME);
    report("framebuffer", now() - start, iterations);

    free(host);
    free(other);
    free(rgb);
    pvm_instance_free(vm);
    pvm_module_free(module);
    pvm_engine_free(engine);
    return 0;
}
