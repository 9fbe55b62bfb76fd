/* The pvm_* C ABI through the real shared library: every function, every status on both
 * backends, and every kind of bad input. Usage: c_abi_test PROGRAMS_DIR
 * (PROGRAMS_DIR holds test_program.polkavm, assembled from tests/programs by `make programs`). */
#define _POSIX_C_SOURCE 200809L /* kill, nanosleep, clock_gettime */
#include "check.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint8_t *program;
static size_t program_len;

static PvmEngine new_engine(uint32_t backend) {
    return backend == PVM_BACKEND_INTERPRETER ? pvm_engine_new_interpreter() : pvm_engine_new();
}

static uint32_t export_pc(PvmModule module, const char *name) {
    int32_t index = pvm_module_find_export(module, (const uint8_t *)name, strlen(name));
    return index < 0 ? PVM_PC_NONE : pvm_module_export_pc(module, (uint32_t)index);
}

static PvmResult call(PvmInstance instance, PvmModule module, const char *name, uint64_t a0, uint64_t a1) {
    uint64_t args[2] = {a0, a1};
    pvm_instance_prepare_call_args(instance, export_pc(module, name), args, 2);
    pvm_instance_set_gas(instance, 1000000);
    return pvm_instance_run(instance);
}

/* polkavm's JIT exists on x86-64 only. Elsewhere pvm_engine_new() returns NULL with this message,
 * the default configuration picks the interpreter, and the per-backend tests run the interpreter. */
#if defined(__x86_64__)
#define HAS_JIT 1
#else
#define HAS_JIT 0
#endif
#define NO_JIT_ERROR "failed to create the engine: the 'compiler' backend is not supported on this platform"

static const uint32_t backends[2] = {PVM_BACKEND_INTERPRETER, PVM_BACKEND_COMPILER};
/* 1 when PVM_TEST_INTERPRETER_ONLY is set: polkavm's Linux sandbox cannot start its worker
 * processes under valgrind, so the valgrind run covers the interpreter (ASan covers the JIT). */
static int backend_count = HAS_JIT ? 2 : 1;

static void test_library_info(void) {
    CHECK(pvm_abi_version() == PVM_ABI_VERSION && PVM_ABI_VERSION >= 4);
    CHECK(strstr(pvm_version(), "polkavm 0.37") != NULL);
    CHECK(pvm_last_error() != NULL);
}

static void test_engines(void) {
    PvmEngine jit = pvm_engine_new();
    if (HAS_JIT) {
        CHECK(jit != NULL && pvm_engine_backend(jit) == PVM_BACKEND_COMPILER);
    } else {
        CHECK(jit == NULL);
        CHECK_ERROR_CONTAINS(NO_JIT_ERROR);
    }
    PvmEngine interpreter = pvm_engine_new_interpreter();
    CHECK(interpreter != NULL);
    CHECK(pvm_engine_backend(interpreter) == PVM_BACKEND_INTERPRETER);
    CHECK(pvm_engine_backend(NULL) == 0);
    CHECK_ERROR_CONTAINS("engine handle is NULL");
    pvm_engine_free(jit);
    pvm_engine_free(interpreter);
    pvm_engine_free(NULL);

    PvmEngineConfig config = pvm_engine_config_default();
    CHECK(config.backend == PVM_BACKEND_AUTO && config.worker_count == 2 && config.allow_dynamic_paging == 0);
    PvmEngine automatic = pvm_engine_new_with_config(&config);
    CHECK(automatic != NULL);
    CHECK(pvm_engine_backend(automatic) == (HAS_JIT ? PVM_BACKEND_COMPILER : PVM_BACKEND_INTERPRETER));
    pvm_engine_free(automatic);
    config.backend = PVM_BACKEND_COMPILER;
    PvmEngine compiler = pvm_engine_new_with_config(&config);
    if (HAS_JIT) {
        CHECK(compiler != NULL && pvm_engine_backend(compiler) == PVM_BACKEND_COMPILER);
    } else {
        CHECK(compiler == NULL);
        CHECK_ERROR_CONTAINS(NO_JIT_ERROR);
    }
    pvm_engine_free(compiler);
    config = pvm_engine_config_default();

    CHECK(pvm_engine_new_with_config(NULL) == NULL);
    CHECK_ERROR_CONTAINS("config is NULL");
    config.backend = 9;
    CHECK(pvm_engine_new_with_config(&config) == NULL);
    CHECK_ERROR_CONTAINS("unknown backend 9");
    config = pvm_engine_config_default();
    config.reserved[1] = 1;
    CHECK(pvm_engine_new_with_config(&config) == NULL);
    CHECK_ERROR_CONTAINS("reserved");
    config = pvm_engine_config_default();
    config.allow_dynamic_paging = 2;
    CHECK(pvm_engine_new_with_config(&config) == NULL);
    CHECK_ERROR_CONTAINS("must be 0 or 1");

    /* The Linux sandbox needs userfaultfd for dynamic paging; refused here it must say why and how. */
    config = pvm_engine_config_default();
    config.backend = PVM_BACKEND_COMPILER;
    config.sandbox = PVM_SANDBOX_LINUX;
    config.allow_dynamic_paging = 1;
    PvmEngine paging = pvm_engine_new_with_config(&config);
    CHECK(HAS_JIT || paging == NULL);
    if (paging == NULL) {
        CHECK_ERROR_CONTAINS(HAS_JIT ? "vm.unprivileged_userfaultfd=1" : NO_JIT_ERROR);
    }
    pvm_engine_free(paging);
}

static void test_bad_blobs(void) {
    PvmEngine engine = pvm_engine_new_interpreter();
    static const uint8_t not_pvm[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    CHECK(pvm_module_new(NULL, program, program_len) == NULL);
    CHECK_ERROR_CONTAINS("engine handle is NULL");
    CHECK(pvm_module_new(engine, NULL, 5) == NULL);
    CHECK_ERROR_CONTAINS("blob is NULL but its length is 5");
    CHECK(pvm_module_new(engine, NULL, 0) == NULL);
    CHECK_ERROR_CONTAINS("blob is empty");
    CHECK(pvm_module_new(engine, not_pvm, sizeof not_pvm) == NULL);
    CHECK_ERROR_CONTAINS("bad magic");
    CHECK(pvm_last_error_kind() == PVM_ERROR_INVALID_PROGRAM);
    pvm_clear_last_error();
    CHECK(pvm_last_error_kind() == PVM_ERROR_NONE && pvm_last_error()[0] == 0);

    int truncated_loaded = 0;
    for (size_t len = 1; len < program_len; len++) {
        PvmModule module = pvm_module_new(engine, program, len);
        truncated_loaded += module != NULL;
        pvm_module_free(module);
    }
    CHECK(truncated_loaded == 0);

    PvmModuleConfig config = pvm_module_config_default();
    config.page_size = 1000;
    CHECK(pvm_module_new_with_config(engine, program, program_len, &config) == NULL);
    CHECK_ERROR_CONTAINS("page size 1000 is invalid");
    config = pvm_module_config_default();
    config.gas_metering = 7;
    CHECK(pvm_module_new_with_config(engine, program, program_len, &config) == NULL);
    CHECK_ERROR_CONTAINS("unknown gas metering kind 7");
    CHECK(pvm_module_new_with_config(engine, program, program_len, NULL) == NULL);
    config = pvm_module_config_default();
    config.dynamic_paging = 1;
    CHECK(pvm_module_new_with_config(engine, program, program_len, &config) == NULL);
    CHECK_ERROR_CONTAINS("allow_dynamic_paging");

    /* A handle of the wrong kind (easy to pass from an untyped binding) is refused, not used. */
    PvmModule module = pvm_module_new(engine, program, program_len);
    PvmInstance instance = pvm_instance_new(engine, module);
    CHECK(pvm_module_exports_count((PvmModule)(void *)instance) == 0);
    CHECK_ERROR_CONTAINS("not a live module");
    CHECK(pvm_instance_get_gas((PvmInstance)(void *)engine) == 0);
    CHECK_ERROR_CONTAINS("not a live instance");
    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

/* Corrupted programs either fail to load or load and run without harming the process. */
static void test_corrupt_blobs_never_crash(void) {
    for (int b = 0; b < backend_count; b++) {
        PvmEngine engine = new_engine(backends[b]);
        uint8_t *copy = malloc(program_len);
        uint32_t seed = 12345;
        int loaded = 0;
        for (int round = 0; round < 300; round++) {
            memcpy(copy, program, program_len);
            for (int flips = 0; flips < 1 + round % 4; flips++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = 13 + (seed >> 8) % (program_len - 13); /* keep magic, version and length */
                copy[at] ^= (uint8_t)(1u << ((seed >> 4) % 8));
            }
            PvmModule module = pvm_module_new(engine, copy, program_len);
            if (module == NULL) {
                CHECK(strlen(pvm_last_error()) > 0);
                continue;
            }
            loaded++;
            PvmInstance instance = pvm_instance_new(engine, module);
            for (uint32_t e = 0; e < pvm_module_exports_count(module); e++) {
                pvm_instance_prepare_call(instance, pvm_module_export_pc(module, e));
                pvm_instance_set_gas(instance, 1000);
                PvmResult result = pvm_instance_run(instance);
                for (int hosts = 0; result.status == PVM_STATUS_HOST && hosts < 100; hosts++) {
                    result = pvm_instance_run(instance);
                }
                CHECK(result.status <= PVM_STATUS_STEP);
            }
            pvm_instance_free(instance);
            pvm_module_free(module);
        }
        CHECK(loaded > 0); /* flips inside code and data keep some programs loadable */
        free(copy);
        pvm_engine_free(engine);
    }
}

static void test_module_queries(void) {
    PvmEngine engine = pvm_engine_new_interpreter();
    PvmModule module = pvm_module_new(engine, program, program_len);
    CHECK(module != NULL);

    PvmMemoryInfo info = pvm_module_memory_info(module);
    CHECK(info.ro_data_address >= 0x10000 && info.ro_data_size == 4096);
    CHECK(info.rw_data_address > info.ro_data_address + info.ro_data_size && info.rw_data_size == 4096);
    CHECK(info.stack_address_high - info.stack_address_low == 4096);
    CHECK(info.heap_base >= info.rw_data_address && info.heap_base <= info.rw_data_address + info.rw_data_size);
    PvmMemoryInfo zero = pvm_module_memory_info(NULL);
    CHECK(zero.ro_data_address == 0 && zero.heap_base == 0);

    static const char *names[] = {"add", "host", "host_loop", "load", "spin", "store", "sum", "trap"};
    CHECK(pvm_module_exports_count(module) == 8);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int32_t index = pvm_module_find_export(module, (const uint8_t *)names[i], strlen(names[i]));
        CHECK(index >= 0);
        uint8_t buf[32] = {0};
        CHECK(pvm_module_export_name(module, (uint32_t)index, buf, sizeof buf) == (int32_t)strlen(names[i]));
        CHECK(memcmp(buf, names[i], strlen(names[i])) == 0);
        CHECK(pvm_module_export_pc(module, (uint32_t)index) != PVM_PC_NONE);
    }
    int32_t host_loop = pvm_module_find_export(module, (const uint8_t *)"host_loop", 9);
    uint8_t small[4] = {0, 0, 0, 0xee};
    CHECK(pvm_module_export_name(module, (uint32_t)host_loop, small, 3) == 9);
    CHECK(memcmp(small, "hos", 3) == 0 && small[3] == 0xee);
    CHECK(pvm_module_export_name(module, (uint32_t)host_loop, NULL, 0) == 9);
    CHECK(pvm_module_export_name(module, (uint32_t)host_loop, NULL, 4) == -1);
    CHECK(pvm_module_export_name(module, 8, small, 4) == -1);
    CHECK_ERROR_CONTAINS("export 8 out of range");
    CHECK(pvm_module_export_pc(module, 99) == PVM_PC_NONE);
    CHECK(pvm_module_find_export(module, (const uint8_t *)"nope", 4) == -1);
    CHECK_ERROR_CONTAINS("no export named \"nope\"");
    CHECK(pvm_module_find_export(module, NULL, 3) == -1);

    CHECK(pvm_module_imports_count(module) == 0);
    CHECK(pvm_module_import_name(module, 0, small, 4) == -1);
    CHECK_ERROR_CONTAINS("import 0 out of range");
    CHECK(pvm_module_exports_count(NULL) == 0 && pvm_module_imports_count(NULL) == 0);

    pvm_module_free(module);
    pvm_engine_free(engine);
}

static void test_statuses(uint32_t backend) {
    PvmEngine engine = new_engine(backend);
    PvmModule module = pvm_module_new(engine, program, program_len);
    PvmInstance instance = pvm_instance_new(engine, module);
    CHECK(instance != NULL);

    PvmResult result = call(instance, module, "add", 40, 2);
    CHECK(result.status == PVM_STATUS_HALT);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 42);
    CHECK(result.gas_remaining > 0 && result.gas_remaining < 1000000);
    CHECK(result.gas_remaining == pvm_instance_get_gas(instance));

    CHECK(call(instance, module, "trap", 0, 0).status == PVM_STATUS_PANIC);
    pvm_instance_prepare_call(instance, export_pc(module, "trap"));
    PvmResult trapped;
    CHECK(pvm_instance_run_checked(instance, &trapped) == 0 && trapped.status == PVM_STATUS_PANIC);

    pvm_instance_prepare_call(instance, export_pc(module, "spin"));
    pvm_instance_set_gas(instance, 1000);
    result = pvm_instance_run(instance);
    CHECK(result.status == PVM_STATUS_OOG && result.gas_remaining <= 0);

    result = call(instance, module, "host", 5, 0);
    CHECK(result.status == PVM_STATUS_HOST && result.host_call == 7);
    CHECK(pvm_instance_get_pc(instance) == export_pc(module, "host"));
    CHECK(pvm_instance_get_next_pc(instance) > pvm_instance_get_pc(instance));
    pvm_instance_set_reg(instance, PVM_REG_A1, 100);
    result = pvm_instance_run(instance);
    CHECK(result.status == PVM_STATUS_HOST && result.host_call == 8);
    result = pvm_instance_run(instance);
    CHECK(result.status == PVM_STATUS_HALT && result.host_call == 0);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 105);
    CHECK(pvm_instance_get_next_pc(instance) == PVM_PC_NONE);

    /* Sum 1..=1000 with gas metering off: runs with no gas at all. */
    PvmModuleConfig config = pvm_module_config_default();
    config.gas_metering = PVM_GAS_METERING_NONE;
    PvmModule unmetered = pvm_module_new_with_config(engine, program, program_len, &config);
    PvmInstance free_running = pvm_instance_new(engine, unmetered);
    uint64_t n = 1000;
    pvm_instance_prepare_call_args(free_running, export_pc(unmetered, "sum"), &n, 1);
    CHECK(pvm_instance_run(free_running).status == PVM_STATUS_HALT);
    CHECK(pvm_instance_get_reg(free_running, PVM_REG_A0) == 500500);
    pvm_instance_free(free_running);
    pvm_module_free(unmetered);

    PvmModule stepping = pvm_module_new_step(engine, program, program_len);
    PvmInstance stepper = pvm_instance_new(engine, stepping);
    uint64_t args[2] = {1, 2};
    pvm_instance_prepare_call_args(stepper, export_pc(stepping, "add"), args, 2);
    pvm_instance_set_gas(stepper, 100);
    int steps = 0;
    while ((result = pvm_instance_run(stepper)).status == PVM_STATUS_STEP && steps < 100) steps++;
    CHECK(steps >= 2 && steps < 100);
    CHECK(result.status == PVM_STATUS_HALT && pvm_instance_get_reg(stepper, PVM_REG_A0) == 3);
    pvm_instance_free(stepper);
    pvm_module_free(stepping);

    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

/* pvm_instance_resume: one call writes a register and runs on; every outcome as run_checked gives it. */
static void test_resume(uint32_t backend) {
    PvmEngine engine = new_engine(backend);
    PvmModule module = pvm_module_new(engine, program, program_len);
    PvmInstance instance = pvm_instance_new(engine, module);
    uint32_t host_call = 12345;

    uint64_t five = 5;
    pvm_instance_prepare_call_args(instance, export_pc(module, "host"), &five, 1);
    pvm_instance_set_gas(instance, 1000000);
    CHECK(pvm_instance_resume(instance, PVM_REG_NONE, 0, &host_call) == PVM_STATUS_HOST && host_call == 7);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 5);
    CHECK(pvm_instance_resume(instance, PVM_REG_A1, 100, &host_call) == PVM_STATUS_HOST && host_call == 8);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A1) == 100);
    int64_t gas_before = pvm_instance_get_gas(instance);
    CHECK(pvm_instance_resume(instance, PVM_REG_A0, 1, NULL) == PVM_STATUS_HALT);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 101);
    CHECK(pvm_instance_get_gas(instance) > 0 && pvm_instance_get_gas(instance) <= gas_before);

    /* host_loop(1000) through resume alone: A2 written at every stop, count returned. */
    uint64_t n = 1000;
    pvm_instance_prepare_call_args(instance, export_pc(module, "host_loop"), &n, 1);
    int32_t status = pvm_instance_resume(instance, PVM_REG_NONE, 0, &host_call);
    uint64_t calls = 0;
    while (status == PVM_STATUS_HOST && host_call == 1) {
        calls++;
        status = pvm_instance_resume(instance, PVM_REG_A2, calls, &host_call);
    }
    CHECK(status == PVM_STATUS_HALT && calls == 1000 && pvm_instance_get_reg(instance, PVM_REG_A0) == 1000);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A2) == 1000);

    pvm_instance_prepare_call(instance, export_pc(module, "trap"));
    CHECK(pvm_instance_resume(instance, PVM_REG_NONE, 0, NULL) == PVM_STATUS_PANIC);
    pvm_instance_prepare_call(instance, export_pc(module, "spin"));
    pvm_instance_set_gas(instance, 100);
    CHECK(pvm_instance_resume(instance, PVM_REG_NONE, 0, NULL) == PVM_STATUS_OOG);

    /* Failures: -1 with a message, and a bad register runs nothing. */
    pvm_instance_prepare_call_args(instance, export_pc(module, "host"), &five, 1);
    pvm_instance_set_gas(instance, 1000000);
    CHECK(pvm_instance_resume(instance, PVM_REG_COUNT, 9, &host_call) == -1);
    CHECK_ERROR_CONTAINS("register 13 out of range");
    CHECK(pvm_instance_get_next_pc(instance) == export_pc(module, "host"));
    CHECK(pvm_instance_resume(NULL, PVM_REG_NONE, 0, &host_call) == -1);
    CHECK_ERROR_CONTAINS("NULL");
    PvmInstance fresh = pvm_instance_new(engine, module);
    CHECK(pvm_instance_resume(fresh, PVM_REG_A0, 1, NULL) == -1);
    CHECK_ERROR_CONTAINS("no call prepared");
    CHECK(pvm_instance_resume((PvmInstance)module, PVM_REG_NONE, 0, NULL) == -1);

    /* pvm_instance_resume_read: the same, plus one register read once the run stops. */
    pvm_instance_prepare_call_args(instance, export_pc(module, "host_loop"), &n, 1);
    uint64_t a2 = 777;
    status = pvm_instance_resume_read(instance, PVM_REG_NONE, 0, PVM_REG_A2, &a2, &host_call);
    calls = 0;
    while (status == PVM_STATUS_HOST && host_call == 1) {
        CHECK(a2 == calls);
        calls++;
        status = pvm_instance_resume_read(instance, PVM_REG_A2, calls, PVM_REG_A2, &a2, &host_call);
    }
    CHECK(status == PVM_STATUS_HALT && calls == 1000 && a2 == 1000);
    uint64_t a0 = 0;
    pvm_instance_prepare_call_args(instance, export_pc(module, "host"), &five, 1);
    CHECK(pvm_instance_resume_read(instance, PVM_REG_NONE, 0, PVM_REG_A0, &a0, &host_call) == PVM_STATUS_HOST
          && host_call == 7 && a0 == 5);
    CHECK(pvm_instance_resume_read(instance, PVM_REG_A1, 100, PVM_REG_A0, NULL, NULL) == PVM_STATUS_HOST);
    CHECK(pvm_instance_resume_read(instance, PVM_REG_A0, 1, PVM_REG_A0, &a0, NULL) == PVM_STATUS_HALT && a0 == 101);
    a0 = 42;
    pvm_instance_prepare_call_args(instance, export_pc(module, "host"), &five, 1);
    CHECK(pvm_instance_resume_read(instance, PVM_REG_A0, 9, PVM_REG_COUNT, &a0, &host_call) == -1);
    CHECK_ERROR_CONTAINS("register 13 out of range");
    CHECK(a0 == 42 && pvm_instance_get_next_pc(instance) == export_pc(module, "host"));
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 5);
    CHECK(pvm_instance_resume_read(instance, PVM_REG_COUNT, 9, PVM_REG_A0, &a0, &host_call) == -1 && a0 == 42);
    CHECK(pvm_instance_resume_read(NULL, PVM_REG_NONE, 0, PVM_REG_A0, &a0, &host_call) == -1);
    CHECK_ERROR_CONTAINS("NULL");
    CHECK(pvm_instance_resume_read(fresh, PVM_REG_NONE, 0, PVM_REG_A0, &a0, NULL) == -1 && a0 == 42);
    CHECK_ERROR_CONTAINS("no call prepared");

    pvm_instance_free(fresh);
    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

/* The gas cost model: an engine default, a per-module choice, and the block costs that follow. */
static void test_cost_models(uint32_t backend) {
    PvmEngineConfig engine_config = pvm_engine_config_default();
    CHECK(engine_config.default_cost_model == PVM_COST_MODEL_DEFAULT);
    CHECK(pvm_module_config_default().cost_model == PVM_COST_MODEL_DEFAULT);
    CHECK(pvm_jam_config_default().cost_model == PVM_COST_MODEL_FULL_L2_HIT);
    engine_config.backend = backend;
    static const uint32_t models[] = {PVM_COST_MODEL_NAIVE, PVM_COST_MODEL_FULL_L1_HIT, PVM_COST_MODEL_FULL_L2_HIT,
                                      PVM_COST_MODEL_FULL_L3_HIT};
    int64_t load_costs[4];
    for (int m = 0; m < 4; m++) {
        engine_config.default_cost_model = models[m];
        PvmEngine engine = pvm_engine_new_with_config(&engine_config);
        PvmModuleConfig config = pvm_module_config_default();
        PvmModule by_engine = pvm_module_new_with_config(engine, program, program_len, &config);
        config.cost_model = PVM_COST_MODEL_NAIVE;
        PvmModule naive = pvm_module_new_with_config(engine, program, program_len, &config);
        CHECK(by_engine && naive);
        uint32_t load_pc = export_pc(by_engine, "load");
        load_costs[m] = pvm_module_block_gas_cost(by_engine, load_pc);
        /* `a0 = u32 [a0]; ret`: two instructions, so two gas under the naive model. */
        CHECK(pvm_module_block_gas_cost(naive, load_pc) == 2);
        CHECK(pvm_module_block_gas_cost(by_engine, load_pc + 1) == -1);
        CHECK_ERROR_CONTAINS("no basic block starts at pc");

        /* The block is charged when it is entered: a run of it uses exactly its cost. */
        PvmInstance instance = pvm_instance_new(engine, by_engine);
        PvmMemoryInfo info = pvm_module_memory_info(by_engine);
        PvmResult result = call(instance, by_engine, "load", info.rw_data_address, 0);
        CHECK(result.status == PVM_STATUS_HALT && pvm_instance_get_reg(instance, PVM_REG_A0) == 42);
        CHECK(1000000 - result.gas_remaining == load_costs[m]);
        pvm_instance_free(instance);
        pvm_module_free(by_engine);
        pvm_module_free(naive);
        pvm_engine_free(engine);
    }
    CHECK(load_costs[0] == 2 && load_costs[0] < load_costs[1] && load_costs[1] < load_costs[2] && load_costs[2] < load_costs[3]);
    CHECK(pvm_module_block_gas_cost(NULL, 0) == -1);

    engine_config.default_cost_model = 9;
    CHECK(pvm_engine_new_with_config(&engine_config) == NULL);
    CHECK_ERROR_CONTAINS("unknown cost model 9");
}

static void test_fault_with_dynamic_paging(void) {
    PvmEngineConfig engine_config = pvm_engine_config_default();
    engine_config.backend = PVM_BACKEND_INTERPRETER;
    engine_config.allow_dynamic_paging = 1;
    PvmEngine engine = pvm_engine_new_with_config(&engine_config);
    PvmModuleConfig config = pvm_module_config_default();
    config.dynamic_paging = 1;
    PvmModule module = pvm_module_new_with_config(engine, program, program_len, &config);
    PvmInstance instance = pvm_instance_new(engine, module);
    CHECK(instance != NULL);

    CHECK(pvm_instance_fault_address(instance) == 0);
    CHECK_ERROR_CONTAINS("did not stop with a fault");
    PvmResult result = call(instance, module, "load", 0x20010, 0);
    CHECK(result.status == PVM_STATUS_FAULT);
    CHECK(pvm_instance_fault_address(instance) == 0x20000);

    /* polkavm panics in sbrk/heap_size under dynamic paging; here they are plain errors. */
    CHECK(pvm_instance_sbrk(instance, 16) == 0);
    CHECK_ERROR_CONTAINS("not available with dynamic paging");
    CHECK(pvm_instance_heap_size(instance) == 0);
    CHECK_ERROR_CONTAINS("not available with dynamic paging");

    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

static void test_registers_and_pc(uint32_t backend) {
    PvmEngine engine = new_engine(backend);
    PvmModule module = pvm_module_new(engine, program, program_len);
    PvmInstance instance = pvm_instance_new(engine, module);

    for (uint32_t reg = 0; reg < PVM_REG_COUNT; reg++) pvm_instance_set_reg(instance, reg, 0x1000u + reg);
    uint64_t regs[PVM_REG_COUNT];
    CHECK(pvm_instance_get_regs(instance, regs) == 0);
    for (uint32_t reg = 0; reg < PVM_REG_COUNT; reg++) CHECK(regs[reg] == 0x1000u + reg);
    for (uint32_t reg = 0; reg < PVM_REG_COUNT; reg++) regs[reg] = ~(uint64_t)reg;
    CHECK(pvm_instance_set_regs(instance, regs) == 0);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A5) == ~(uint64_t)12);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_RA) == ~(uint64_t)0);

    CHECK(pvm_instance_get_reg(instance, 13) == 0);
    CHECK_ERROR_CONTAINS("register 13 out of range (0..12)");
    pvm_instance_set_reg(instance, 99, 1);
    CHECK_ERROR_CONTAINS("register 99 out of range (0..12)");
    CHECK(pvm_instance_get_regs(instance, NULL) == -1);
    CHECK(pvm_instance_set_regs(instance, NULL) == -1);
    CHECK(pvm_instance_get_reg(NULL, 0) == 0);
    CHECK_ERROR_CONTAINS("instance handle is NULL");

    /* Wrong order: nothing prepared yet. */
    CHECK(pvm_instance_get_next_pc(instance) == PVM_PC_NONE);
    CHECK(pvm_instance_get_pc(instance) == PVM_PC_NONE);
    PvmResult result = pvm_instance_run(instance);
    CHECK(result.status == PVM_STATUS_PANIC);
    CHECK_ERROR_CONTAINS("no call prepared");
    CHECK(pvm_instance_run(NULL).status == PVM_STATUS_PANIC);
    PvmResult checked = {PVM_STATUS_HALT, 5, 5};
    CHECK(pvm_instance_run_checked(instance, &checked) == -1);
    CHECK(checked.status == PVM_STATUS_PANIC && checked.gas_remaining == 0);
    CHECK_ERROR_CONTAINS("no call prepared");
    CHECK(pvm_instance_run_checked(NULL, &checked) == -1);
    CHECK(pvm_instance_run_checked(instance, NULL) == -1);
    CHECK_ERROR_CONTAINS("out is NULL");

    uint64_t nine[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(pvm_instance_prepare_call_args(instance, 0, nine, 10) == -1);
    CHECK_ERROR_CONTAINS("too many arguments: 10");
    CHECK(pvm_instance_prepare_call_args(instance, 0, NULL, 2) == -1);
    CHECK(pvm_instance_prepare_call_args(instance, export_pc(module, "add"), nine, 9) == 0);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 1 && pvm_instance_get_reg(instance, PVM_REG_T2) == 9);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_SP) == pvm_module_memory_info(module).stack_address_high);
    CHECK(pvm_instance_get_next_pc(instance) == export_pc(module, "add"));
    CHECK(pvm_instance_prepare_call(NULL, 0) == -1);

    /* set_pc really moves the next program counter. */
    pvm_instance_set_pc(instance, export_pc(module, "trap"));
    CHECK(pvm_instance_get_next_pc(instance) == export_pc(module, "trap"));
    pvm_instance_set_gas(instance, 100);
    CHECK(pvm_instance_run(instance).status == PVM_STATUS_PANIC);
    CHECK(pvm_instance_get_pc(instance) == export_pc(module, "trap"));

    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

static void test_memory(uint32_t backend) {
    PvmEngine engine = new_engine(backend);
    PvmModule module = pvm_module_new(engine, program, program_len);
    PvmInstance instance = pvm_instance_new(engine, module);
    PvmMemoryInfo info = pvm_module_memory_info(module);

    uint8_t buf[8] = {0};
    CHECK(pvm_instance_read_memory(instance, info.ro_data_address, buf, 4) == 0);
    CHECK(buf[0] == 1 && buf[1] == 2 && buf[2] == 3 && buf[3] == 4);
    CHECK(pvm_instance_read_memory(instance, info.rw_data_address, buf, 4) == 0 && buf[0] == 42);

    CHECK(call(instance, module, "store", info.rw_data_address + 8, 0xdeadbeef).status == PVM_STATUS_HALT);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 0xdeadbeef);
    uint32_t word = 0;
    CHECK(pvm_instance_read_memory(instance, info.rw_data_address + 8, (uint8_t *)&word, 4) == 0);
    CHECK(word == 0xdeadbeef);
    word = 77;
    CHECK(pvm_instance_write_memory(instance, info.rw_data_address, (const uint8_t *)&word, 4) == 0);
    CHECK(call(instance, module, "load", info.rw_data_address, 0).status == PVM_STATUS_HALT);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 77);

    /* Guest accesses outside its memory trap; host accesses fail cleanly. */
    CHECK(call(instance, module, "store", info.ro_data_address, 1).status == PVM_STATUS_PANIC);
    CHECK(call(instance, module, "load", 0, 0).status == PVM_STATUS_PANIC);
    CHECK(call(instance, module, "load", info.stack_address_low - 4, 0).status == PVM_STATUS_PANIC);
    CHECK(pvm_instance_write_memory(instance, info.ro_data_address, buf, 1) == -1);
    CHECK_ERROR_CONTAINS("write of 1 bytes at");
    CHECK(pvm_instance_read_memory(instance, 0, buf, 4) == -1);
    CHECK(pvm_instance_read_memory(instance, 0xfffffffe, buf, 4) == -1);
    CHECK(pvm_instance_read_memory(instance, info.rw_data_address, NULL, 4) == -1);
    CHECK_ERROR_CONTAINS("buf is NULL but its length is 4");
    CHECK(pvm_instance_write_memory(instance, info.rw_data_address, NULL, 4) == -1);
    CHECK(pvm_instance_read_memory(instance, info.rw_data_address, NULL, 0) == 0);
    CHECK(pvm_instance_read_memory(NULL, info.rw_data_address, buf, 1) == -1);

    pvm_instance_reset(instance);
    CHECK(pvm_instance_read_memory(instance, info.rw_data_address, buf, 8) == 0);
    CHECK(buf[0] == 42 && buf[4] == 0);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 0);
    pvm_clear_last_error();
    pvm_instance_reset(instance);
    CHECK(pvm_last_error()[0] == '\0');
    pvm_instance_reset(NULL);
    CHECK_ERROR_CONTAINS("instance handle is NULL");
    pvm_clear_last_error();
    CHECK(strcmp(pvm_last_error(), "") == 0);

    /* sbrk takes bytes and returns polkavm's result: the new heap top. */
    uint32_t heap = pvm_instance_heap_size(instance);
    uint32_t top = pvm_instance_sbrk(instance, 100);
    CHECK(top == info.heap_base + heap + 100);
    CHECK(pvm_instance_heap_size(instance) == heap + 100);
    CHECK(pvm_instance_sbrk(instance, 0) == top);
    CHECK(pvm_instance_write_memory(instance, top - 4, buf, 4) == 0);
    CHECK(pvm_instance_sbrk(instance, 0xffffffffu) == 0);
    CHECK_ERROR_CONTAINS("sbrk(4294967295) failed");
    CHECK(pvm_instance_sbrk(NULL, 1) == 0 && pvm_instance_heap_size(NULL) == 0);

#ifdef PVM_FEATURE_DOOM
    /* A framebuffer on the heap: header, palette (index i -> (i, 255 - i, 7)), 320x200 indices. */
    uint32_t fb = info.heap_base + pvm_instance_heap_size(instance);
    CHECK(pvm_instance_sbrk(instance, PVM_DOOM_FRAMEBUFFER_SIZE) != 0);
    uint8_t *frame = calloc(1, PVM_DOOM_FRAMEBUFFER_SIZE);
    for (int i = 0; i < 256; i++) {
        frame[1 + 3 * i] = (uint8_t)i;
        frame[2 + 3 * i] = (uint8_t)(255 - i);
        frame[3 + 3 * i] = 7;
    }
    for (int p = 0; p < 320 * 200; p++) frame[769 + p] = (uint8_t)(p % 251);
    CHECK(pvm_instance_write_memory(instance, fb, frame, PVM_DOOM_FRAMEBUFFER_SIZE) == 0);
    uint8_t *rgb = malloc(PVM_DOOM_RGB24_SIZE);
    CHECK(pvm_instance_read_framebuffer_rgb24(instance, fb, PVM_DOOM_FRAMEBUFFER_SIZE, rgb, PVM_DOOM_RGB24_SIZE) == 0);
    CHECK(rgb[0] == 0 && rgb[1] == 255 && rgb[2] == 7);
    CHECK(rgb[3 * 300] == 300 % 251 && rgb[3 * 300 + 1] == 255 - 300 % 251);
    CHECK(pvm_instance_read_framebuffer_rgb24(instance, fb, 100, rgb, PVM_DOOM_RGB24_SIZE) == -1);
    CHECK_ERROR_CONTAINS("fb_size 100");
    CHECK(pvm_instance_read_framebuffer_rgb24(instance, fb, PVM_DOOM_FRAMEBUFFER_SIZE, rgb, 10) == -1);
    CHECK(pvm_instance_read_framebuffer_rgb24(instance, 0, PVM_DOOM_FRAMEBUFFER_SIZE, rgb, PVM_DOOM_RGB24_SIZE) == -1);
    CHECK(pvm_instance_read_framebuffer_rgb24(instance, fb, PVM_DOOM_FRAMEBUFFER_SIZE, NULL, PVM_DOOM_RGB24_SIZE) == -1);
    free(rgb);
    free(frame);
#endif

    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

static void test_free_in_any_order(uint32_t backend) {
    PvmEngine engine = new_engine(backend);
    PvmModule module = pvm_module_new(engine, program, program_len);
    uint32_t add = export_pc(module, "add");
    PvmInstance instance = pvm_instance_new(engine, module);
    PvmEngine other = new_engine(backend);
    CHECK(pvm_instance_new(other, module) == NULL);
    CHECK_ERROR_CONTAINS("different engine");
    CHECK(pvm_instance_new(NULL, module) == NULL && pvm_instance_new(engine, NULL) == NULL);
    pvm_engine_free(other);

    pvm_engine_free(engine);
    pvm_module_free(module);
    uint64_t args[2] = {20, 22};
    pvm_instance_prepare_call_args(instance, add, args, 2);
    pvm_instance_set_gas(instance, 100);
    CHECK(pvm_instance_run(instance).status == PVM_STATUS_HALT);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 42);
    pvm_instance_free(instance);
    pvm_instance_free(NULL);
    pvm_module_free(NULL);
}

/* The host-call loop every C host writes: run, serve HOST, run again. */
static uint64_t run_host_loop(PvmEngine engine, PvmModule module, uint64_t count) {
    PvmInstance instance = pvm_instance_new(engine, module);
    pvm_instance_prepare_call_args(instance, export_pc(module, "host_loop"), &count, 1);
    pvm_instance_set_gas(instance, 10000000);
    uint64_t served = 0;
    PvmResult result;
    while ((result = pvm_instance_run(instance)).status == PVM_STATUS_HOST) {
        served += result.host_call == 1;
    }
    uint64_t a0 = pvm_instance_get_reg(instance, PVM_REG_A0);
    pvm_instance_free(instance);
    return result.status == PVM_STATUS_HALT && served == count ? a0 : (uint64_t)-1;
}

struct thread_job {
    PvmEngine engine;
    PvmModule module;
    uint64_t results[20];
    int error_isolated;
};

static void *thread_main(void *arg) {
    struct thread_job *job = arg;
    for (int i = 0; i < 20; i++) job->results[i] = run_host_loop(job->engine, job->module, 50 + (uint64_t)i);
    job->error_isolated = strcmp(pvm_last_error(), "") == 0;
    return NULL;
}

static void test_threads_share_engine_and_module(uint32_t backend) {
    PvmEngine engine = new_engine(backend);
    PvmModule module = pvm_module_new(engine, program, program_len);
    pvm_instance_get_reg(NULL, 0); /* an error on this thread only */
    struct thread_job jobs[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        jobs[t].engine = engine;
        jobs[t].module = module;
        pthread_create(&threads[t], NULL, thread_main, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
    for (int t = 0; t < 4; t++) {
        CHECK(jobs[t].error_isolated);
        for (int i = 0; i < 20; i++) CHECK(jobs[t].results[i] == run_host_loop(engine, module, 50 + (uint64_t)i));
    }
    CHECK(jobs[0].results[0] == 50);
    CHECK_ERROR_CONTAINS("instance handle is NULL");
    pvm_module_free(module);
    pvm_engine_free(engine);
}

struct test {
    const char *name;
    void (*run)(void);
    void (*run_backend)(uint32_t);
};

/* --- A JIT worker process that dies (killed, OOM, seccomp) ---------------------------------- */

/* The state letter and parent of process `pid` from /proc/PID/stat; 0 if it is gone. */
static char process_state(long pid, long *parent) {
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    size_t len = fread(stat, 1, sizeof stat - 1, file);
    fclose(file);
    stat[len] = 0;
    char state = 0;
    const char *after_name = strrchr(stat, ')');
    if (!after_name || sscanf(after_name + 1, " %c %ld", &state, parent) != 2) return 0;
    return state;
}

/* This process's children (the JIT's sandbox workers; zombies included), at most `max`. */
static int child_processes(long *pids, int max) {
    DIR *proc = opendir("/proc");
    int count = 0;
    struct dirent *entry;
    while (proc && (entry = readdir(proc)) != NULL) {
        long pid = strtol(entry->d_name, NULL, 10), parent = 0;
        if (pid > 0 && process_state(pid, &parent) && parent == (long)getpid() && count < max) pids[count++] = pid;
    }
    if (proc) closedir(proc);
    return count;
}

static int open_fds(void) {
    DIR *fds = opendir("/proc/self/fd");
    int count = 0;
    while (fds && readdir(fds)) count++;
    if (fds) closedir(fds);
    return count;
}

/* A new JIT instance and the pid of its worker (the engine keeps no idle workers). */
static PvmInstance instance_with_worker(PvmEngine engine, PvmModule module, long *worker) {
    long before[64], after[64];
    int before_count = child_processes(before, 64);
    PvmInstance instance = pvm_instance_new(engine, module);
    int after_count = child_processes(after, 64);
    *worker = 0;
    for (int i = 0; i < after_count; i++) {
        int seen = 0;
        for (int j = 0; j < before_count; j++) seen |= after[i] == before[j];
        if (!seen) *worker = after[i];
    }
    return instance;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

struct killer {
    long pid;
    struct timespec killed_at;
};

static void *kill_after_200ms(void *arg) {
    struct killer *killer = arg;
    struct timespec delay = {0, 200 * 1000 * 1000};
    nanosleep(&delay, NULL);
    kill((pid_t)killer->pid, SIGKILL);
    clock_gettime(CLOCK_MONOTONIC, &killer->killed_at);
    return NULL;
}

static void kill_and_wait(long pid) {
    long parent;
    kill((pid_t)pid, SIGKILL);
    for (int i = 0; i < 5000 && process_state(pid, &parent) != 'Z' && process_state(pid, &parent) != 0; i++) {
        struct timespec millisecond = {0, 1000 * 1000};
        nanosleep(&millisecond, NULL);
    }
}

/* polkavm 0.37 alone spins forever in pvm_instance_run here. */
static void test_dead_worker(void) {
    if (backend_count == 1) {
        printf("dead_worker: JIT only, not run with PVM_TEST_INTERPRETER_ONLY\n");
        return;
    }
    PvmEngineConfig config = pvm_engine_config_default();
    config.backend = PVM_BACKEND_COMPILER;
    config.worker_count = 0;
    PvmEngine engine = pvm_engine_new_with_config(&config);
    PvmModule module = pvm_module_new(engine, program, program_len);
    CHECK(engine && module);
    long children[64];
    int fds = open_fds(), processes = child_processes(children, 64);

    /* Killed mid-run, through pvm_instance_run and pvm_instance_run_checked. */
    for (int checked = 0; checked < 2; checked++) {
        struct killer killer = {0, {0, 0}};
        PvmInstance instance = instance_with_worker(engine, module, &killer.pid);
        CHECK(instance && killer.pid > 0);
        CHECK(pvm_instance_prepare_call(instance, export_pc(module, "spin")) == 0);
        pvm_instance_set_gas(instance, INT64_MAX / 2);
        pthread_t thread;
        pthread_create(&thread, NULL, kill_after_200ms, &killer);
        PvmResult result = {99, 0, 0};
        if (checked) {
            CHECK(pvm_instance_run_checked(instance, &result) == -1);
        } else {
            result = pvm_instance_run(instance);
        }
        pthread_join(thread, NULL);
        CHECK(result.status == PVM_STATUS_PANIC);
        CHECK(seconds_since(&killer.killed_at) < 1.5);
        CHECK_ERROR_CONTAINS("run failed: worker process unexpectedly quit");
        CHECK_ERROR_CONTAINS("SIGKILL");
        CHECK(pvm_instance_run(instance).status == PVM_STATUS_PANIC);
        CHECK_ERROR_CONTAINS("the instance is unusable since a run failed");
        CHECK(pvm_instance_prepare_call(instance, export_pc(module, "add")) == -1);
        CHECK_ERROR_CONTAINS("the instance is unusable");
        pvm_instance_free(instance);
    }

    /* Killed while the host handles a host call: the resumed run fails. */
    long worker = 0;
    PvmInstance instance = instance_with_worker(engine, module, &worker);
    CHECK(pvm_instance_prepare_call(instance, export_pc(module, "host")) == 0);
    pvm_instance_set_gas(instance, 1000000);
    CHECK(pvm_instance_run(instance).status == PVM_STATUS_HOST);
    kill_and_wait(worker);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK(pvm_instance_run(instance).status == PVM_STATUS_PANIC);
    CHECK(seconds_since(&start) < 1.5);
    CHECK_ERROR_CONTAINS("SIGKILL");
    pvm_instance_free(instance);

    /* The engine goes on, and nothing is left behind. */
    instance = pvm_instance_new(engine, module);
    CHECK(call(instance, module, "add", 2, 3).status == PVM_STATUS_HALT);
    CHECK(pvm_instance_get_reg(instance, PVM_REG_A0) == 5);
    pvm_instance_free(instance);
    CHECK(child_processes(children, 64) == processes);
    CHECK(open_fds() == fds);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

int main(int argc, char **argv) {
    program = read_program(argc, argv, "test_program.polkavm", &program_len);
    if (!HAS_JIT) {
        printf("no JIT on this CPU: the engine tests check its documented error, the others run the interpreter\n");
    } else if (getenv("PVM_TEST_INTERPRETER_ONLY")) {
        backend_count = 1;
        printf("PVM_TEST_INTERPRETER_ONLY is set: skipping the JIT backend (its sandbox workers cannot run under valgrind)\n");
    }

    static const struct test tests[] = {
        {"library_info", test_library_info, NULL},
        {"engines", test_engines, NULL},
        {"bad_blobs", test_bad_blobs, NULL},
        {"corrupt_blobs_never_crash", test_corrupt_blobs_never_crash, NULL},
        {"module_queries", test_module_queries, NULL},
        {"statuses", NULL, test_statuses},
        {"resume", NULL, test_resume},
        {"fault_with_dynamic_paging", test_fault_with_dynamic_paging, NULL},
        {"cost_models", NULL, test_cost_models},
        {"registers_and_pc", NULL, test_registers_and_pc},
        {"memory", NULL, test_memory},
        {"free_in_any_order", NULL, test_free_in_any_order},
        {"threads_share_engine_and_module", NULL, test_threads_share_engine_and_module},
        {"dead_worker", test_dead_worker, NULL},
    };
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        for (int b = 0; b < (tests[i].run ? 1 : backend_count); b++) {
            int before = check_failures;
            if (tests[i].run) {
                tests[i].run();
            } else {
                tests[i].run_backend(backends[b]);
            }
            const char *suffix = tests[i].run ? "" : (b == 0 ? " [interpreter]" : " [jit]");
            int ok = check_failures == before;
            printf("%s %s%s\n", ok ? "PASS" : "FAIL", tests[i].name, suffix);
            ok ? passed++ : failed++;
        }
    }
    free(program);
    printf("%d checks\n%d passed, %d failed\n", checks_run, passed, failed);
    return failed == 0 ? 0 : 1;
}
