/*
 * The C ABI call sequences of the Julia high-level layer (bindings/julia/PolkaVM/src/PolkaVM.jl),
 * run against the real library: each `jl_*` function below mirrors the Julia function named in
 * the comment above it, making the same pvm_* calls (and calls to other mirrored functions) in
 * the same order. check_julia_abi.py fails if the two drift apart. A Julia exception is a -1
 * return with the message in `thrown`.
 *
 * Usage: high_level_sequences PROGRAM.polkavm [interpreter]
 * (`interpreter`: skip the JIT backend, whose sandbox valgrind cannot run).
 */
#include "polkavm_ffi.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { PvmEngine ptr; } JlEngine;
typedef struct { PvmModule ptr; JlEngine *engine; } JlModule;
typedef struct { PvmInstance ptr; JlModule *program; bool busy; } JlInstance;
typedef struct { PvmResult result; } JlRunResult;
/* An export name, or a program counter when `name` is NULL. */
typedef struct { const char *name; uint32_t pc; } JlEntry;
#define NAME(text) ((JlEntry){(text), 0})
#define PC(value) ((JlEntry){NULL, (value)})
typedef int (*JlHandler)(JlInstance *instance, uint32_t number, void *state);
typedef int32_t (*JlNameFunction)(PvmModule, uint32_t, uint8_t *, uint32_t);

static char thrown[1024];
static int failures;

#define CHECK(condition)                                                                      \
    do {                                                                                      \
        if (!(condition)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s (last exception: %s)\n", __FILE__,       \
                    __LINE__, #condition, thrown);                                            \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

static int throw_message(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(thrown, sizeof thrown, format, args);
    va_end(args);
    return -1;
}

/* julia: function throw_last_error(what::AbstractString) */
static int jl_throw_last_error(const char *what) {
    const char *message = pvm_last_error();
    if (message[0] == '\0') return throw_message("%s", what);
    return throw_message("%s: %s", what, message);
}

/* julia: function Engine(; backend = nothing, */
static JlEngine *jl_Engine(uint32_t backend, bool allow_dynamic_paging) {
    PvmEngineConfig config = pvm_engine_config_default();
    config.backend = backend;
    config.allow_dynamic_paging = allow_dynamic_paging;
    PvmEngine ptr = pvm_engine_new_with_config(&config);
    if (ptr == NULL) {
        jl_throw_last_error("creating an engine");
        return NULL;
    }
    JlEngine *engine = malloc(sizeof *engine);
    engine->ptr = ptr;
    return engine;
}

/* julia: function Module(engine::Engine, blob::AbstractVector{UInt8}; */
static JlModule *jl_Module(JlEngine *engine, const uint8_t *blob, size_t length, bool step_tracing) {
    PvmModuleConfig config = pvm_module_config_default();
    config.step_tracing = step_tracing;
    PvmModule ptr = pvm_module_new_with_config(engine->ptr, blob, length, &config);
    if (ptr == NULL) {
        jl_throw_last_error("loading a module");
        return NULL;
    }
    JlModule *program = malloc(sizeof *program);
    program->ptr = ptr;
    program->engine = engine;
    return program;
}

/* julia: function jam_module(engine::Engine, code::AbstractVector{UInt8}; */
static JlModule *jl_jam_module(JlEngine *engine, const uint8_t *code, size_t length) {
    PvmJamConfig config = pvm_jam_config_default();
    PvmModule ptr = pvm_module_new_jam(engine->ptr, code, length, &config);
    if (ptr == NULL) {
        jl_throw_last_error("loading a JAM program");
        return NULL;
    }
    JlModule *program = malloc(sizeof *program);
    program->ptr = ptr;
    program->engine = engine;
    return program;
}

/* julia: function Instance(program::Module) */
static JlInstance *jl_Instance(JlModule *program) {
    PvmInstance ptr = pvm_instance_new(program->engine->ptr, program->ptr);
    if (ptr == NULL) {
        jl_throw_last_error("creating an instance");
        return NULL;
    }
    JlInstance *instance = malloc(sizeof *instance);
    instance->ptr = ptr;
    instance->program = program;
    instance->busy = false;
    return instance;
}

/* julia: function destroy!(engine::Engine) */
static void jl_destroy_engine(JlEngine *engine) {
    PvmEngine ptr = engine->ptr;
    engine->ptr = NULL;
    pvm_engine_free(ptr);
}

/* julia: function destroy!(program::Module) */
static void jl_destroy_module(JlModule *program) {
    PvmModule ptr = program->ptr;
    program->ptr = NULL;
    pvm_module_free(ptr);
}

/* julia: function destroy!(instance::Instance) */
static void jl_destroy_instance(JlInstance *instance) {
    PvmInstance ptr = instance->ptr;
    instance->ptr = NULL;
    pvm_instance_free(ptr);
}

/* julia: version() = */
static const char *jl_version(void) {
    return pvm_version();
}

/* julia: backend(engine::Engine) = */
static uint32_t jl_backend(JlEngine *engine) {
    return pvm_engine_backend(engine->ptr);
}

/* julia: memory_info(program::Module) = */
static PvmMemoryInfo jl_memory_info(JlModule *program) {
    return pvm_module_memory_info(program->ptr);
}

/* julia: function name_at(name_function, program::Module, index::Integer, what::AbstractString) */
static int jl_name_at(JlNameFunction name_function, JlModule *program, uint32_t index, char *out, size_t out_size) {
    int32_t count = name_function(program->ptr, index, NULL, 0);
    if (count < 0) return jl_throw_last_error("reading a name");
    CHECK((size_t)count < out_size);
    if (name_function(program->ptr, index, (uint8_t *)out, (uint32_t)count) != count)
        return jl_throw_last_error("reading a name");
    out[count] = '\0';
    return 0;
}

/* julia: function exports(program::Module) */
static int jl_exports(JlModule *program, const char *wanted, uint32_t *pc) {
    uint32_t count = pvm_module_exports_count(program->ptr);
    for (uint32_t index = 0; index < count; index++) {
        char name[256];
        if (jl_name_at(pvm_module_export_name, program, index, name, sizeof name) != 0) return -1;
        uint32_t export_pc = pvm_module_export_pc(program->ptr, index);
        if (strcmp(name, wanted) == 0) *pc = export_pc;
    }
    return 0;
}

/* julia: function imports(program::Module) */
static int jl_imports(JlModule *program, uint32_t *count_out) {
    uint32_t count = pvm_module_imports_count(program->ptr);
    for (uint32_t index = 0; index < count; index++) {
        char name[256];
        if (jl_name_at(pvm_module_import_name, program, index, name, sizeof name) != 0) return -1;
    }
    *count_out = count;
    return 0;
}

/* julia: function export_pc(program::Module, name::AbstractString) */
static int jl_export_pc(JlModule *program, const char *name, uint32_t *pc) {
    int32_t index = pvm_module_find_export(program->ptr, (const uint8_t *)name, strlen(name));
    if (index < 0) return jl_throw_last_error("finding an export");
    *pc = pvm_module_export_pc(program->ptr, (uint32_t)index);
    return 0;
}

/* julia: entry_pc(program::Module, entry::Union{AbstractString, Symbol}) = */
static int jl_entry_pc(JlModule *program, JlEntry entry, uint32_t *pc) {
    if (entry.name == NULL) {
        *pc = entry.pc;
        return 0;
    }
    return jl_export_pc(program, entry.name, pc);
}

/* julia: not_busy(instance::Instance) = */
static int jl_not_busy(JlInstance *instance) {
    if (instance->busy) return throw_message("the instance is inside call!");
    return 0;
}

/* julia: function prepare_call!(instance::Instance, entry, args::Integer...) */
static int jl_prepare_call(JlInstance *instance, JlEntry entry, const uint64_t *args, uint32_t count) {
    if (jl_not_busy(instance) != 0) return -1;
    uint32_t pc;
    if (jl_entry_pc(instance->program, entry, &pc) != 0) return -1;
    if (pvm_instance_prepare_call_args(instance->ptr, pc, args, count) != 0)
        return jl_throw_last_error("preparing a call");
    return 0;
}

/* julia: function run_prepared(instance::Instance) */
static int jl_run_prepared(JlInstance *instance, PvmResult *result) {
    if (pvm_instance_get_next_pc(instance->ptr) == PVM_PC_NONE) return throw_message("cannot run: no call prepared");
    *result = pvm_instance_run(instance->ptr);
    return 0;
}

/* julia: function run!(instance::Instance) */
static int jl_run(JlInstance *instance, PvmResult *result) {
    if (jl_not_busy(instance) != 0) return -1;
    return jl_run_prepared(instance, result);
}

/* julia: set_gas!(instance::Instance, gas::Integer) = */
static void jl_set_gas(JlInstance *instance, int64_t gas) {
    pvm_instance_set_gas(instance->ptr, gas);
}

/* julia: gas(instance::Instance) = */
static int64_t jl_gas(JlInstance *instance) {
    return pvm_instance_get_gas(instance->ptr);
}

/* julia: function call!(handler, instance::Instance, entry, args::Integer...; gas::Integer) */
static int jl_call(JlHandler handler, void *state, JlInstance *instance, JlEntry entry, const uint64_t *args,
                   uint32_t count, int64_t gas, PvmResult *result) {
    if (jl_prepare_call(instance, entry, args, count) != 0) return -1;
    jl_set_gas(instance, gas);
    instance->busy = true;
    int status = 0;
    for (;;) {
        status = jl_run_prepared(instance, result);
        if (status != 0 || result->status != PVM_STATUS_HOST) break;
        status = handler(instance, result->host_call, state);
        if (status != 0) break;
    }
    instance->busy = false;
    return status;
}

/* julia: reset!(instance::Instance) = */
static void jl_reset(JlInstance *instance) {
    pvm_instance_reset(instance->ptr);
}

/* julia: Base.getindex(instance::Instance, reg::Symbol) = */
static uint64_t jl_getindex(JlInstance *instance, uint32_t reg) {
    return pvm_instance_get_reg(instance->ptr, reg);
}

/* julia: function Base.setindex!(instance::Instance, value::Integer, reg::Symbol) */
static void jl_setindex(JlInstance *instance, uint64_t value, uint32_t reg) {
    pvm_instance_set_reg(instance->ptr, reg, value);
}

/* julia: function registers(instance::Instance) */
static int jl_registers(JlInstance *instance, uint64_t values[PVM_REG_COUNT]) {
    if (pvm_instance_get_regs(instance->ptr, values) != 0) return jl_throw_last_error("reading the registers");
    return 0;
}

/* julia: function set_registers!(instance::Instance, values) */
static int jl_set_registers(JlInstance *instance, const uint64_t values[PVM_REG_COUNT]) {
    if (pvm_instance_set_regs(instance->ptr, values) != 0) return jl_throw_last_error("setting the registers");
    return 0;
}

/* julia: function next_pc(instance::Instance) */
static uint32_t jl_next_pc(JlInstance *instance) {
    return pvm_instance_get_next_pc(instance->ptr);
}

/* julia: set_next_pc!(instance::Instance, pc::Integer) = */
static void jl_set_next_pc(JlInstance *instance, uint32_t pc) {
    pvm_instance_set_pc(instance->ptr, pc);
}

/* julia: function fault_address(instance::Instance) */
static uint32_t jl_fault_address(JlInstance *instance) {
    return pvm_instance_fault_address(instance->ptr);
}

/* julia: function map_pages!(instance::Instance, address::Integer, size::Integer; writable::Bool) */
static int jl_map_pages(JlInstance *instance, uint32_t address, uint32_t size, bool writable) {
    if (pvm_instance_map_pages(instance->ptr, address, size, writable) != 0) return jl_throw_last_error("mapping pages");
    return 0;
}

/* julia: function protect_pages!(instance::Instance, address::Integer, size::Integer; read_only::Bool) */
static int jl_protect_pages(JlInstance *instance, uint32_t address, uint32_t size, bool read_only) {
    if (pvm_instance_protect_pages(instance->ptr, address, size, read_only) != 0)
        return jl_throw_last_error("protecting pages");
    return 0;
}

/* julia: function free_pages!(instance::Instance, address::Integer, size::Integer) */
static int jl_free_pages(JlInstance *instance, uint32_t address, uint32_t size) {
    if (pvm_instance_free_pages(instance->ptr, address, size) != 0) return jl_throw_last_error("freeing pages");
    return 0;
}

/* julia: function graypaper_pc(instance::Instance) */
static uint32_t jl_graypaper_pc(JlInstance *instance) {
    return pvm_instance_get_graypaper_pc(instance->ptr);
}

/* julia: function read_memory!(instance::Instance, address::Integer, buffer::Vector{UInt8}) */
static int jl_read_memory(JlInstance *instance, uint32_t address, uint8_t *buffer, uint32_t length) {
    if (pvm_instance_read_memory(instance->ptr, address, buffer, length) != 0)
        return jl_throw_last_error("reading memory");
    return 0;
}

/* julia: function write_memory!(instance::Instance, address::Integer, data::AbstractVector{UInt8}) */
static int jl_write_memory(JlInstance *instance, uint32_t address, const uint8_t *data, uint32_t length) {
    if (pvm_instance_write_memory(instance->ptr, address, data, length) != 0)
        return jl_throw_last_error("writing memory");
    return 0;
}

/* julia: function sbrk!(instance::Instance, size::Integer) */
static int jl_sbrk(JlInstance *instance, uint32_t size, uint32_t *top) {
    *top = pvm_instance_sbrk(instance->ptr, size);
    if (*top == 0) return jl_throw_last_error("sbrk");
    return 0;
}

/* julia: heap_size(instance::Instance) = */
static uint32_t jl_heap_size(JlInstance *instance) {
    return pvm_instance_heap_size(instance->ptr);
}

/* ------------------------------------------------------------------------------------------ */
/* The scenarios of bindings/julia/PolkaVM/test/runtests.jl, on both backends.                */

static uint8_t *program_blob;
static size_t program_size;

static void load_program(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot open %s (run `make programs`)\n", path);
        exit(2);
    }
    fseek(file, 0, SEEK_END);
    program_size = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    program_blob = malloc(program_size);
    if (fread(program_blob, 1, program_size, file) != program_size) exit(2);
    fclose(file);
}

typedef struct {
    JlEngine *engine;
    JlModule *program;
    JlInstance *instance;
} Handles;

static Handles open_handles(uint32_t backend, bool step_tracing) {
    Handles handles = {0};
    handles.engine = jl_Engine(backend, false);
    CHECK(handles.engine != NULL);
    handles.program = jl_Module(handles.engine, program_blob, program_size, step_tracing);
    CHECK(handles.program != NULL);
    handles.instance = jl_Instance(handles.program);
    CHECK(handles.instance != NULL);
    return handles;
}

static void close_handles(Handles handles) {
    jl_destroy_engine(handles.engine);
    jl_destroy_module(handles.program);
    jl_destroy_instance(handles.instance);
    free(handles.engine);
    free(handles.program);
    free(handles.instance);
}

static int no_host_calls(JlInstance *instance, uint32_t number, void *state) {
    (void)instance, (void)number, (void)state;
    return throw_message("unexpected host call");
}

static int simple_call(JlInstance *instance, JlEntry entry, const uint64_t *args, uint32_t count, int64_t gas,
                       PvmResult *result) {
    return jl_call(no_host_calls, NULL, instance, entry, args, count, gas, result);
}

typedef struct {
    uint32_t seen[16];
    int count;
} HostState;

static int record_host_call(JlInstance *instance, uint32_t number, void *state) {
    HostState *host = state;
    if (host->count < 16) host->seen[host->count] = number;
    host->count++;
    if (number == 8) jl_setindex(instance, 2, PVM_REG_A1);
    return 0;
}

static int count_host_calls(JlInstance *instance, uint32_t number, void *state) {
    (void)instance;
    *(int *)state += (int)number;
    return 0;
}

static int failing_handler(JlInstance *instance, uint32_t number, void *state) {
    (void)instance, (void)number, (void)state;
    return throw_message("DomainError");
}

static int reentrant_handler(JlInstance *instance, uint32_t number, void *state) {
    (void)number, (void)state;
    PvmResult inner;
    const uint64_t args[] = {1, 1};
    return simple_call(instance, NAME("add"), args, 2, 10000, &inner);
}

static int running_handler(JlInstance *instance, uint32_t number, void *state) {
    (void)number, (void)state;
    PvmResult inner;
    return jl_run(instance, &inner);
}

static void test_engine_and_module(uint32_t backend) {
    Handles handles = open_handles(backend, false);
    uint32_t pc = PVM_PC_NONE, direct_pc = 0, imports = 99;
    CHECK(jl_exports(handles.program, "add", &pc) == 0 && pc != PVM_PC_NONE);
    CHECK(jl_export_pc(handles.program, "add", &direct_pc) == 0 && direct_pc == pc);
    CHECK(jl_imports(handles.program, &imports) == 0 && imports != 99);
    CHECK(jl_export_pc(handles.program, "no_such_export", &direct_pc) == -1 && strstr(thrown, "no_such_export"));
    PvmMemoryInfo info = jl_memory_info(handles.program);
    CHECK(info.rw_data_size >= 4);
    CHECK(jl_backend(handles.engine) == backend);
    CHECK(strstr(jl_version(), "polkavm") != NULL);

    const uint8_t bad_blob[] = {1, 2, 3};
    CHECK(jl_Module(handles.engine, bad_blob, sizeof bad_blob, false) == NULL);
    CHECK(strlen(thrown) > strlen("loading a module: "));

    PvmEngineConfig unknown = pvm_engine_config_default();
    unknown.backend = 77;
    CHECK(pvm_engine_new_with_config(&unknown) == NULL && strstr(pvm_last_error(), "77"));
    close_handles(handles);
}

static void test_calls(uint32_t backend) {
    Handles handles = open_handles(backend, false);
    JlInstance *instance = handles.instance;
    PvmResult result;
    const uint64_t two_three[] = {2, 3}, minus_one[] = {(uint64_t)-1, 0}, ten[] = {10};
    CHECK(simple_call(instance, NAME("add"), two_three, 2, 10000, &result) == 0 && result.status == PVM_STATUS_HALT);
    CHECK(jl_getindex(instance, PVM_REG_A0) == 5);
    CHECK(result.gas_remaining > 0 && result.gas_remaining < 10000);
    CHECK(simple_call(instance, NAME("add"), minus_one, 2, 10000, &result) == 0 && result.status == PVM_STATUS_HALT);
    CHECK(jl_getindex(instance, PVM_REG_A0) == UINT64_MAX);
    CHECK(simple_call(instance, NAME("trap"), NULL, 0, 10000, &result) == 0 && result.status == PVM_STATUS_PANIC);
    CHECK(simple_call(instance, NAME("spin"), NULL, 0, 1000, &result) == 0 && result.status == PVM_STATUS_OOG);
    CHECK(simple_call(instance, NAME("sum"), ten, 1, 10000, &result) == 0 && result.status == PVM_STATUS_HALT);
    CHECK(jl_getindex(instance, PVM_REG_A0) == 55);
    CHECK(jl_next_pc(instance) == PVM_PC_NONE);
    CHECK(jl_run(instance, &result) == -1 && strstr(thrown, "no call prepared"));
    const uint64_t ten_args[10] = {0};
    CHECK(jl_prepare_call(instance, NAME("add"), ten_args, 10) == -1 && strstr(thrown, "too many arguments"));
    close_handles(handles);
}

static void test_host_calls(uint32_t backend) {
    Handles handles = open_handles(backend, false);
    JlInstance *instance = handles.instance;
    PvmResult result;
    HostState host = {{0}, 0};
    const uint64_t forty[] = {40, 0}, hundred[] = {100}, one_two[] = {1, 2};
    CHECK(jl_call(record_host_call, &host, instance, NAME("host"), forty, 2, 10000, &result) == 0);
    CHECK(host.count == 2 && host.seen[0] == 7 && host.seen[1] == 8);
    CHECK(result.status == PVM_STATUS_HALT && jl_getindex(instance, PVM_REG_A0) == 42);

    int count = 0;
    CHECK(jl_call(count_host_calls, &count, instance, NAME("host_loop"), hundred, 1, 100000, &result) == 0);
    CHECK(count == 100 && jl_getindex(instance, PVM_REG_A0) == 100);

    CHECK(jl_prepare_call(instance, NAME("host"), one_two, 2) == 0);
    jl_set_gas(instance, 10000);
    CHECK(jl_run(instance, &result) == 0 && result.status == PVM_STATUS_HOST && result.host_call == 7);
    CHECK(jl_gas(instance) == result.gas_remaining);

    /* Resuming by hand: set the next pc to where the host call left it and run on. */
    uint32_t resume_at = jl_next_pc(instance);
    CHECK(resume_at != PVM_PC_NONE);
    jl_set_next_pc(instance, resume_at);
    CHECK(jl_run(instance, &result) == 0 && result.status == PVM_STATUS_HOST && result.host_call == 8);
    close_handles(handles);
}

static void test_handler_errors_and_reentrancy(uint32_t backend) {
    Handles handles = open_handles(backend, false);
    JlInstance *instance = handles.instance;
    PvmResult result;
    const uint64_t one_two[] = {1, 2}, one_one[] = {1, 1}, two_two[] = {2, 2};
    CHECK(jl_call(failing_handler, NULL, instance, NAME("host"), one_two, 2, 10000, &result) == -1);
    CHECK(strcmp(thrown, "DomainError") == 0 && !instance->busy);
    CHECK(simple_call(instance, NAME("add"), one_one, 2, 10000, &result) == 0 && result.status == PVM_STATUS_HALT);
    CHECK(jl_call(reentrant_handler, NULL, instance, NAME("host"), one_two, 2, 10000, &result) == -1);
    CHECK(strstr(thrown, "inside call!") != NULL);
    CHECK(jl_call(running_handler, NULL, instance, NAME("host"), one_two, 2, 10000, &result) == -1);
    CHECK(simple_call(instance, NAME("add"), two_two, 2, 10000, &result) == 0 && jl_getindex(instance, PVM_REG_A0) == 4);
    close_handles(handles);
}

static void test_registers(uint32_t backend) {
    Handles handles = open_handles(backend, false);
    JlInstance *instance = handles.instance;
    jl_setindex(instance, 0x1234, PVM_REG_A3);
    CHECK(jl_getindex(instance, PVM_REG_A3) == 0x1234);
    jl_setindex(instance, (uint64_t)-1, PVM_REG_T0);
    CHECK(jl_getindex(instance, PVM_REG_T0) == UINT64_MAX);
    uint64_t values[PVM_REG_COUNT], read_back[PVM_REG_COUNT];
    for (uint32_t i = 0; i < PVM_REG_COUNT; i++) values[i] = i + 1;
    CHECK(jl_set_registers(instance, values) == 0 && jl_registers(instance, read_back) == 0);
    CHECK(memcmp(values, read_back, sizeof values) == 0 && read_back[PVM_REG_A5] == 13);
    close_handles(handles);
}

static void test_memory(uint32_t backend) {
    Handles handles = open_handles(backend, false);
    JlInstance *instance = handles.instance;
    PvmMemoryInfo info = jl_memory_info(handles.program);
    PvmResult result;
    uint8_t bytes[4];
    CHECK(jl_read_memory(instance, info.rw_data_address, bytes, 4) == 0);
    CHECK(bytes[0] == 0x2a && bytes[1] == 0 && bytes[2] == 0 && bytes[3] == 0);
    CHECK(jl_read_memory(instance, info.ro_data_address, bytes, 4) == 0);
    CHECK(bytes[0] == 1 && bytes[1] == 2 && bytes[2] == 3 && bytes[3] == 4);
    const uint8_t seven[] = {7, 0, 0, 0};
    CHECK(jl_write_memory(instance, info.rw_data_address, seven, 4) == 0);
    const uint64_t load_args[] = {info.rw_data_address}, store_args[] = {info.rw_data_address + 4, 99};
    CHECK(simple_call(instance, NAME("load"), load_args, 1, 10000, &result) == 0 && jl_getindex(instance, PVM_REG_A0) == 7);
    CHECK(simple_call(instance, NAME("store"), store_args, 2, 10000, &result) == 0);
    CHECK(jl_read_memory(instance, info.rw_data_address + 4, bytes, 1) == 0 && bytes[0] == 99);
    CHECK(jl_read_memory(instance, 0, bytes, 4) == -1 && strstr(thrown, "0x00000000") != NULL);
    const uint8_t one[] = {1};
    CHECK(jl_write_memory(instance, info.ro_data_address, one, 1) == -1);
    jl_reset(instance);
    CHECK(jl_read_memory(instance, info.rw_data_address, bytes, 1) == 0 && bytes[0] == 0x2a);
    uint32_t top = 0, grown = 0;
    CHECK(jl_sbrk(instance, 0, &top) == 0 && top != 0);
    CHECK(jl_sbrk(instance, 4096, &grown) == 0 && grown >= top + 4096);
    CHECK(jl_heap_size(instance) >= 4096);
    CHECK(jl_fault_address(instance) == 0);
    close_handles(handles);
}

static void test_step_tracing(uint32_t backend) {
    Handles handles = open_handles(backend, true);
    JlInstance *instance = handles.instance;
    const uint64_t one_two[] = {1, 2};
    PvmResult result;
    CHECK(jl_prepare_call(instance, NAME("add"), one_two, 2) == 0);
    jl_set_gas(instance, 10000);
    int steps = 0;
    while (jl_run(instance, &result) == 0 && result.status == PVM_STATUS_STEP) steps++;
    CHECK(steps >= 2 && jl_getindex(instance, PVM_REG_A0) == 3);
    close_handles(handles);
}

/* Finalizers run in no particular order: every order of freeing must leave the rest usable.
 * Export names need their module: after closing it, call by program counter. */
static void test_free_orders(uint32_t backend) {
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int o = 0; o < 6; o++) {
        Handles handles = open_handles(backend, false);
        uint32_t add_pc = PVM_PC_NONE;
        CHECK(jl_export_pc(handles.program, "add", &add_pc) == 0);
        for (int step = 0; step < 3; step++) {
            switch (orders[o][step]) {
            case 0: jl_destroy_engine(handles.engine); break;
            case 1: jl_destroy_module(handles.program); break;
            case 2: jl_destroy_instance(handles.instance); break;
            }
            if (handles.instance->ptr != NULL) {
                const uint64_t args[] = {20, 22};
                PvmResult result;
                CHECK(simple_call(handles.instance, PC(add_pc), args, 2, 10000, &result) == 0);
                CHECK(result.status == PVM_STATUS_HALT && jl_getindex(handles.instance, PVM_REG_A0) == 42);
            }
            if (handles.program->ptr != NULL && handles.engine->ptr == NULL) {
                uint32_t pc = PVM_PC_NONE;
                CHECK(jl_export_pc(handles.program, "add", &pc) == 0 && pc != PVM_PC_NONE);
            }
        }
        /* close() twice: the second free gets NULL. */
        jl_destroy_instance(handles.instance);
        CHECK(jl_Instance(handles.program) == NULL);
        free(handles.engine);
        free(handles.program);
        free(handles.instance);
    }
}

/* The conformance vector inst_store_u8: `u8 [0x20000] = a0`, then past the end of the code. */
static void test_jam(const char *path) {
    FILE *file = fopen(path, "rb");
    CHECK(file != NULL);
    if (file == NULL) return;
    uint8_t code[256];
    size_t length = fread(code, 1, sizeof code, file);
    fclose(file);

    JlEngine *engine = jl_Engine(PVM_BACKEND_INTERPRETER, true);
    JlModule *program = jl_jam_module(engine, code, length);
    CHECK(program != NULL);
    JlInstance *instance = jl_Instance(program);
    CHECK(instance != NULL);
    PvmResult result;
    uint8_t byte = 0;
    const uint8_t one[] = {1};
    jl_setindex(instance, 0x12345678, PVM_REG_A0);
    jl_set_next_pc(instance, 0);
    jl_set_gas(instance, 10000);
    CHECK(jl_run(instance, &result) == 0 && result.status == PVM_STATUS_FAULT);
    CHECK(jl_fault_address(instance) == 0x20000 && jl_graypaper_pc(instance) == 0);
    CHECK(jl_map_pages(instance, 0x20000, 4096, true) == 0);
    jl_set_next_pc(instance, 0);
    CHECK(jl_run(instance, &result) == 0 && result.status == PVM_STATUS_PANIC);
    CHECK(jl_read_memory(instance, 0x20000, &byte, 1) == 0 && byte == 0x78);
    CHECK(jl_protect_pages(instance, 0x20000, 4096, true) == 0);
    CHECK(jl_write_memory(instance, 0x20000, one, 1) == -1);
    jl_set_next_pc(instance, 0);
    CHECK(jl_run(instance, &result) == 0 && result.status == PVM_STATUS_FAULT);
    CHECK(jl_protect_pages(instance, 0x20000, 4096, false) == 0 && jl_write_memory(instance, 0x20000, one, 1) == 0);
    CHECK(jl_free_pages(instance, 0x20000, 4096) == 0);
    CHECK(jl_read_memory(instance, 0x20000, &byte, 1) == -1);
    CHECK(jl_map_pages(instance, 0x20001, 4096, true) == -1);

    JlEngine *static_engine = jl_Engine(PVM_BACKEND_INTERPRETER, false);
    CHECK(jl_jam_module(static_engine, code, length) == NULL && strstr(thrown, "loading a JAM program: ") != NULL);
    close_handles((Handles){engine, program, instance});
    jl_destroy_engine(static_engine);
    free(static_engine);
}

int main(int argc, char **argv) {
    bool interpreter_only = argc == 3 && strcmp(argv[2], "interpreter") == 0;
    if (argc != 2 && !interpreter_only) {
        fprintf(stderr, "usage: %s PROGRAM.polkavm [interpreter]\n", argv[0]);
        return 2;
    }
    load_program(argv[1]);
    static const uint32_t backends[] = {PVM_BACKEND_INTERPRETER, PVM_BACKEND_COMPILER};
    for (size_t i = 0; i < (interpreter_only ? 1 : sizeof backends / sizeof backends[0]); i++) {
        uint32_t backend = backends[i];
        test_engine_and_module(backend);
        test_calls(backend);
        test_host_calls(backend);
        test_handler_errors_and_reentrancy(backend);
        test_registers(backend);
        test_memory(backend);
        test_step_tracing(backend);
        test_free_orders(backend);
    }
    const char *jam_program = getenv("PVM_JAM_PROGRAM");
    if (jam_program != NULL) {
        test_jam(jam_program);
    } else {
        printf("Julia high-level call sequences: PVM_JAM_PROGRAM not set, JAM checks skipped\n");
    }
    free(program_blob);
    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("Julia high-level call sequences: all checks passed on %s\n",
           interpreter_only ? "the interpreter" : "both backends");
    return 0;
}
