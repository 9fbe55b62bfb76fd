/* The C ABI benchmark runner, driven by `cargo bench` (benches/overhead/external.rs):
 *   bench_c_abi [--resume | --resume-read] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM
 * With --resume, host calls go through pvm_instance_resume (one call writes A2 and runs on)
 * instead of pvm_instance_run + pvm_instance_set_reg; with --resume-read through
 * pvm_instance_resume_read (which also returns the next A0: one call per round trip).
 * sets up, warms up with one batch, times one batch of N and prints nanoseconds per unit
 * (per host call, per run, per invocation or per load) on its last line. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "polkavm_ffi.h"

#define GAS (INT64_MAX / 4)

static void fail(const char *what) {
    fprintf(stderr, "bench_c_abi: %s: %s\n", what, pvm_last_error());
    exit(1);
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "bench_c_abi: cannot open %s\n", path);
        exit(1);
    }
    fseek(file, 0, SEEK_END);
    *len = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *data = malloc(*len);
    if (fread(data, 1, *len, file) != *len) {
        fprintf(stderr, "bench_c_abi: cannot read %s\n", path);
        exit(1);
    }
    fclose(file);
    return data;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint32_t export_pc(PvmModule module, const char *name) {
    int32_t index = pvm_module_find_export(module, (const uint8_t *)name, strlen(name));
    if (index < 0) fail(name);
    return pvm_module_export_pc(module, (uint32_t)index);
}

static int use_resume, use_resume_read;

/* Runs `pc(n)`; every host call reads A0 and writes it to A2. Returns A0. */
static uint64_t call(PvmInstance instance, uint32_t pc, uint64_t n) {
    if (pvm_instance_prepare_call_args(instance, pc, &n, 1) != 0) fail("prepare_call");
    pvm_instance_set_gas(instance, GAS);
    if (use_resume_read) {
        uint32_t host_call;
        uint64_t a0;
        int32_t status = pvm_instance_resume_read(instance, PVM_REG_NONE, 0, PVM_REG_A0, &a0, &host_call);
        while (status == PVM_STATUS_HOST)
            status = pvm_instance_resume_read(instance, PVM_REG_A2, a0, PVM_REG_A0, &a0, &host_call);
        if (status != PVM_STATUS_HALT) fail("unexpected status");
        return a0;
    }
    if (use_resume) {
        uint32_t host_call;
        int32_t status = pvm_instance_resume(instance, PVM_REG_NONE, 0, &host_call);
        while (status == PVM_STATUS_HOST)
            status = pvm_instance_resume(instance, PVM_REG_A2, pvm_instance_get_reg(instance, PVM_REG_A0), &host_call);
        if (status != PVM_STATUS_HALT) fail("unexpected status");
        return pvm_instance_get_reg(instance, PVM_REG_A0);
    }
    for (;;) {
        PvmResult result = pvm_instance_run(instance);
        if (result.status == PVM_STATUS_HOST) {
            pvm_instance_set_reg(instance, PVM_REG_A2, pvm_instance_get_reg(instance, PVM_REG_A0));
        } else if (result.status == PVM_STATUS_HALT) {
            return pvm_instance_get_reg(instance, PVM_REG_A0);
        } else {
            fail("unexpected status");
        }
    }
}

struct bench {
    PvmEngine engine;
    PvmModule module;
    PvmInstance instance;
    const unsigned char *large;
    size_t large_len;
};

/* One batch; returns nanoseconds per unit. */
static double run_batch(struct bench *b, const char *scenario, uint64_t n) {
    double start, elapsed;
    if (strcmp(scenario, "host_calls") == 0) {
        uint32_t pc = export_pc(b->module, "host_loop");
        start = now_ns();
        uint64_t a0 = call(b->instance, pc, n);
        elapsed = now_ns() - start;
        if (a0 != n) fail("host_loop returned the wrong count");
        return elapsed / (double)n;
    }
    if (strcmp(scenario, "compute") == 0) {
        uint32_t pc = export_pc(b->module, "sum");
        start = now_ns();
        uint64_t a0 = call(b->instance, pc, n);
        elapsed = now_ns() - start;
        if (a0 != n * (n + 1) / 2) fail("sum returned the wrong value");
        return elapsed;
    }
    if (strcmp(scenario, "invocations") == 0) {
        uint32_t pc = export_pc(b->module, "add");
        uint64_t args[2] = {40, 2};
        start = now_ns();
        for (uint64_t i = 0; i < n; i++) {
            PvmInstance instance = pvm_instance_new(b->engine, b->module);
            if (!instance) fail("pvm_instance_new");
            if (pvm_instance_prepare_call_args(instance, pc, args, 2) != 0) fail("prepare_call");
            pvm_instance_set_gas(instance, GAS);
            if (pvm_instance_run(instance).status != PVM_STATUS_HALT) fail("add did not halt");
            if (pvm_instance_get_reg(instance, PVM_REG_A0) != 42) fail("add returned the wrong value");
            pvm_instance_free(instance);
        }
        return (now_ns() - start) / (double)n;
    }
    if (strcmp(scenario, "load") == 0) {
        start = now_ns();
        for (uint64_t i = 0; i < n; i++) {
            PvmModule module = pvm_module_new(b->engine, b->large, b->large_len);
            if (!module) fail("pvm_module_new");
            pvm_module_free(module);
        }
        return (now_ns() - start) / (double)n;
    }
    fprintf(stderr, "bench_c_abi: unknown scenario %s\n", scenario);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "--resume") == 0 || strcmp(argv[1], "--resume-read") == 0)) {
        use_resume = 1;
        use_resume_read = strcmp(argv[1], "--resume-read") == 0;
        argv++;
        argc--;
    }
    if (argc != 6) {
        fprintf(stderr, "usage: %s [--resume | --resume-read] SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM\n", argv[0]);
        return 2;
    }
    const char *scenario = argv[1];
    uint64_t n = strtoull(argv[3], NULL, 10);
    size_t test_len;
    unsigned char *test = read_file(argv[4], &test_len);
    struct bench b;
    b.large = read_file(argv[5], &b.large_len);
    b.engine = strcmp(argv[2], "compiler") == 0 ? pvm_engine_new() : pvm_engine_new_interpreter();
    if (!b.engine) fail("engine");
    b.module = pvm_module_new(b.engine, test, test_len);
    if (!b.module) fail("module");
    b.instance = pvm_instance_new(b.engine, b.module);
    if (!b.instance) fail("instance");

    run_batch(&b, scenario, n);
    printf("%.3f\n", run_batch(&b, scenario, n));

    pvm_instance_free(b.instance);
    pvm_module_free(b.module);
    pvm_engine_free(b.engine);
    free(test);
    free((void *)b.large);
    return 0;
}
