/*
 * Runs PVM test vectors (JSON, read with json-c) through the pvm_* C ABI on the given backends and
 * prints, per backend, "N passed, N failed", every failure with its reason, and the wall time.
 *
 *   conformance_runner [--backend interpreter|jit_generic|jit_linux]... [--isa jam_v1|revive_v1]
 *                      [--cost-model naive|full-l1|full-l2|full-l3] DIR_OR_FILE...
 *
 * It reads the same two formats as pvm-conformance (src/bin/pvm_conformance.rs): the flat one of
 * the JAM PVM test vectors v0.4 (one run, every mapped byte compared afterwards) and the steps one
 * of polkavm's spectool (map, write, set-reg, run, assert, in order, several runs per test), whose
 * block-gas-costs it checks with pvm_module_block_gas_cost. Without --backend it runs the
 * interpreter and the JIT with the generic sandbox; without --isa and --cost-model, the JAM
 * defaults (jam_v1, full-l2: Graypaper 0.8.0). Exit status: 0 when every vector passes, 1
 * otherwise, 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "polkavm_ffi.h"

#define REASON_SIZE 1024

typedef struct {
    const char *name;
    uint32_t backend;
    uint32_t sandbox;
} Backend;

static const Backend BACKENDS[] = {
    {"interpreter", PVM_BACKEND_INTERPRETER, PVM_SANDBOX_AUTO},
    {"jit_generic", PVM_BACKEND_COMPILER, PVM_SANDBOX_GENERIC},
    {"jit_linux", PVM_BACKEND_COMPILER, PVM_SANDBOX_LINUX},
};
#define BACKEND_COUNT (sizeof(BACKENDS) / sizeof(BACKENDS[0]))
#define DEFAULT_BACKEND_COUNT 2

typedef struct {
    char **items;
    size_t count;
    size_t capacity;
} PathList;

static void fail_oom(void) {
    fputs("conformance_runner: out of memory\n", stderr);
    exit(2);
}

static void paths_push(PathList *list, const char *path) {
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? list->capacity * 2 : 64;
        list->items = realloc(list->items, list->capacity * sizeof(char *));
        if (!list->items) fail_oom();
    }
    list->items[list->count] = strdup(path);
    if (!list->items[list->count]) fail_oom();
    list->count++;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *text, const char *suffix) {
    size_t text_len = strlen(text), suffix_len = strlen(suffix);
    return text_len >= suffix_len && strcmp(text + text_len - suffix_len, suffix) == 0;
}

/* A JSON file in a folder of vectors that is not one (the suite's schema.json, say). */
static bool is_other_json(const char *path) {
    json_object *root = json_object_from_file(path);
    bool other = root && !json_object_object_get_ex(root, "program", NULL) &&
                 !json_object_object_get_ex(root, "expected-status", NULL);
    json_object_put(root);
    return other;
}

/* Adds the file, or every vector-looking .json file under the folder, sorted. */
static bool collect_vectors(const char *path, PathList *out) {
    struct stat info;
    if (stat(path, &info) != 0) {
        fprintf(stderr, "conformance_runner: %s does not exist\n", path);
        return false;
    }
    if (!S_ISDIR(info.st_mode)) {
        paths_push(out, path);
        return true;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        fprintf(stderr, "conformance_runner: cannot list %s\n", path);
        return false;
    }
    PathList entries = {0};
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        size_t size = strlen(path) + strlen(entry->d_name) + 2;
        char *child = malloc(size);
        if (!child) fail_oom();
        snprintf(child, size, "%s/%s", path, entry->d_name);
        paths_push(&entries, child);
        free(child);
    }
    closedir(dir);
    qsort(entries.items, entries.count, sizeof(char *), compare_strings);
    bool ok = true;
    for (size_t i = 0; i < entries.count; i++) {
        struct stat child_info;
        const char *child = entries.items[i];
        if (stat(child, &child_info) == 0 && S_ISDIR(child_info.st_mode)) {
            ok = collect_vectors(child, out) && ok;
        } else if (ends_with(child, ".json") && !is_other_json(child)) {
            paths_push(out, child);
        }
        free(entries.items[i]);
    }
    free(entries.items);
    return ok;
}

/* ---- Test vectors ---------------------------------------------------------------------------- */

typedef struct {
    uint32_t address;
    uint32_t length;
    bool writable;
} PageRange;

typedef struct {
    uint32_t address;
    uint8_t *contents;
    size_t length;
} Chunk;

/* What an assert step (or a flat vector's expected-* fields) expects after a run. */
typedef struct {
    char *status;
    uint64_t regs[PVM_REG_COUNT];
    uint32_t pc;
    int64_t gas;
    Chunk *memory;
    size_t memory_len;
    bool has_fault;
    uint32_t fault_address;
    bool has_host_call;
    uint32_t host_call;
} Expected;

typedef enum { STEP_MAP, STEP_WRITE, STEP_SET_REG, STEP_RUN, STEP_ASSERT } StepKind;

typedef struct {
    StepKind kind;
    PageRange map;      /* STEP_MAP */
    Chunk write;        /* STEP_WRITE: a host write, which ignores page protection as a test's setup does */
    uint32_t reg;       /* STEP_SET_REG */
    uint64_t value;
    Expected expected;  /* STEP_ASSERT */
} Step;

typedef struct {
    uint32_t pc;
    int64_t cost;
} BlockCost;

/* One test in either format: the program, the state before the first run, and its steps. */
typedef struct {
    char *name;
    uint8_t *program;
    size_t program_len;
    uint32_t initial_pc;
    int64_t initial_gas;
    Step *steps;
    size_t steps_len;
    size_t steps_capacity;
    BlockCost *block_costs;
    size_t block_costs_len;
} Vector;

static bool field(json_object *object, const char *key, json_type type, json_object **out, char *error) {
    if (!json_object_object_get_ex(object, key, out) || !json_object_is_type(*out, type)) {
        snprintf(error, REASON_SIZE, "field \"%s\" is missing or of the wrong type", key);
        return false;
    }
    return true;
}

static bool u32_field(json_object *object, const char *key, uint32_t *out, char *error) {
    json_object *value;
    if (!field(object, key, json_type_int, &value, error)) return false;
    uint64_t number = json_object_get_uint64(value);
    if (json_object_get_int64(value) < 0 || number > UINT32_MAX) {
        snprintf(error, REASON_SIZE, "field \"%s\" does not fit in 32 bits", key);
        return false;
    }
    *out = (uint32_t)number;
    return true;
}

static bool i64_field(json_object *object, const char *key, int64_t *out, char *error) {
    json_object *value;
    if (!field(object, key, json_type_int, &value, error)) return false;
    *out = json_object_get_int64(value);
    return true;
}

static bool byte_array(json_object *array, uint8_t **out, size_t *len, char *error) {
    *len = json_object_array_length(array);
    *out = malloc(*len ? *len : 1);
    if (!*out) fail_oom();
    for (size_t i = 0; i < *len; i++) {
        json_object *item = json_object_array_get_idx(array, i);
        int64_t byte = json_object_get_int64(item);
        if (!json_object_is_type(item, json_type_int) || byte < 0 || byte > 255) {
            snprintf(error, REASON_SIZE, "a byte array holds a non-byte");
            return false;
        }
        (*out)[i] = (uint8_t)byte;
    }
    return true;
}

static bool registers(json_object *object, const char *key, uint64_t *out, char *error) {
    json_object *array;
    if (!field(object, key, json_type_array, &array, error)) return false;
    if (json_object_array_length(array) != PVM_REG_COUNT) {
        snprintf(error, REASON_SIZE, "\"%s\" does not hold 13 registers", key);
        return false;
    }
    for (size_t i = 0; i < PVM_REG_COUNT; i++) out[i] = json_object_get_uint64(json_object_array_get_idx(array, i));
    return true;
}

static bool chunk(json_object *object, Chunk *out, char *error) {
    json_object *contents;
    return u32_field(object, "address", &out->address, error) &&
           field(object, "contents", json_type_array, &contents, error) &&
           byte_array(contents, &out->contents, &out->length, error);
}

static bool chunks(json_object *object, const char *key, Chunk **out, size_t *len, char *error) {
    json_object *array;
    if (!field(object, key, json_type_array, &array, error)) return false;
    size_t count = json_object_array_length(array);
    *out = calloc(count ? count : 1, sizeof(Chunk));
    if (!*out) fail_oom();
    for (*len = 0; *len < count; (*len)++)
        if (!chunk(json_object_array_get_idx(array, *len), &(*out)[*len], error)) return false;
    return true;
}

static bool page_range(json_object *object, PageRange *out, char *error) {
    json_object *writable;
    if (!u32_field(object, "address", &out->address, error) || !u32_field(object, "length", &out->length, error) ||
        !field(object, "is-writable", json_type_boolean, &writable, error))
        return false;
    out->writable = json_object_get_boolean(writable);
    return true;
}

static Step *push_step(Vector *vector, StepKind kind) {
    if (vector->steps_len == vector->steps_capacity) {
        vector->steps_capacity = vector->steps_capacity ? vector->steps_capacity * 2 : 16;
        vector->steps = realloc(vector->steps, vector->steps_capacity * sizeof(Step));
        if (!vector->steps) fail_oom();
    }
    Step *step = &vector->steps[vector->steps_len++];
    memset(step, 0, sizeof(*step));
    step->kind = kind;
    return step;
}

static bool status_string(json_object *object, const char *key, char **out, char *error) {
    json_object *value;
    if (!field(object, key, json_type_string, &value, error)) return false;
    *out = strdup(json_object_get_string(value));
    if (!*out) fail_oom();
    return true;
}

static void vector_free(Vector *vector) {
    free(vector->name);
    free(vector->program);
    for (size_t i = 0; i < vector->steps_len; i++) {
        Step *step = &vector->steps[i];
        free(step->write.contents);
        free(step->expected.status);
        for (size_t c = 0; c < step->expected.memory_len; c++) free(step->expected.memory[c].contents);
        free(step->expected.memory);
    }
    free(vector->steps);
    free(vector->block_costs);
    memset(vector, 0, sizeof(*vector));
}

/* The flat format (v0.4): one run from the given state, then one assert. */
static bool load_flat(json_object *root, Vector *vector, char *error) {
    json_object *page_map, *fault;
    uint64_t regs[PVM_REG_COUNT];
    if (!field(root, "initial-page-map", json_type_array, &page_map, error)) return false;
    for (size_t i = 0; i < json_object_array_length(page_map); i++)
        if (!page_range(json_object_array_get_idx(page_map, i), &push_step(vector, STEP_MAP)->map, error)) return false;
    json_object *memory;
    if (!field(root, "initial-memory", json_type_array, &memory, error)) return false;
    for (size_t i = 0; i < json_object_array_length(memory); i++)
        if (!chunk(json_object_array_get_idx(memory, i), &push_step(vector, STEP_WRITE)->write, error)) return false;
    if (!registers(root, "initial-regs", regs, error)) return false;
    for (uint32_t reg = 0; reg < PVM_REG_COUNT; reg++) {
        Step *step = push_step(vector, STEP_SET_REG);
        step->reg = reg;
        step->value = regs[reg];
    }
    push_step(vector, STEP_RUN);
    Expected *expected = &push_step(vector, STEP_ASSERT)->expected;
    if (!status_string(root, "expected-status", &expected->status, error) ||
        !registers(root, "expected-regs", expected->regs, error) || !u32_field(root, "expected-pc", &expected->pc, error) ||
        !i64_field(root, "expected-gas", &expected->gas, error) ||
        !chunks(root, "expected-memory", &expected->memory, &expected->memory_len, error))
        return false;
    if (json_object_object_get_ex(root, "expected-page-fault-address", &fault)) {
        expected->has_fault = true;
        return u32_field(root, "expected-page-fault-address", &expected->fault_address, error);
    }
    return true;
}

/* The steps format (polkavm's spectool). */
static bool load_steps(json_object *root, json_object *steps, Vector *vector, char *error) {
    for (size_t i = 0; i < json_object_array_length(steps); i++) {
        json_object *step = json_object_array_get_idx(steps, i), *body;
        if (json_object_object_get_ex(step, "map", &body)) {
            if (!page_range(body, &push_step(vector, STEP_MAP)->map, error)) return false;
        } else if (json_object_object_get_ex(step, "write", &body)) {
            if (!chunk(body, &push_step(vector, STEP_WRITE)->write, error)) return false;
        } else if (json_object_object_get_ex(step, "set-reg", &body)) {
            Step *set = push_step(vector, STEP_SET_REG);
            json_object *value;
            if (!u32_field(body, "reg", &set->reg, error) || !field(body, "value", json_type_int, &value, error)) return false;
            set->value = json_object_get_uint64(value);
        } else if (json_object_object_get_ex(step, "run", &body)) {
            push_step(vector, STEP_RUN);
        } else if (json_object_object_get_ex(step, "assert", &body)) {
            Expected *expected = &push_step(vector, STEP_ASSERT)->expected;
            json_object *optional;
            if (!status_string(body, "status", &expected->status, error) || !registers(body, "regs", expected->regs, error) ||
                !u32_field(body, "pc", &expected->pc, error) || !i64_field(body, "gas", &expected->gas, error) ||
                !chunks(body, "memory", &expected->memory, &expected->memory_len, error))
                return false;
            if (json_object_object_get_ex(body, "page-fault-address", &optional)) {
                expected->has_fault = true;
                if (!u32_field(body, "page-fault-address", &expected->fault_address, error)) return false;
            }
            if (json_object_object_get_ex(body, "hostcall", &optional)) {
                expected->has_host_call = true;
                if (!u32_field(body, "hostcall", &expected->host_call, error)) return false;
            }
        } else {
            snprintf(error, REASON_SIZE, "step %zu is of an unknown kind", i);
            return false;
        }
    }
    json_object *blocks;
    if (!field(root, "block-gas-costs", json_type_array, &blocks, error)) return false;
    vector->block_costs_len = json_object_array_length(blocks);
    vector->block_costs = calloc(vector->block_costs_len ? vector->block_costs_len : 1, sizeof(BlockCost));
    if (!vector->block_costs) fail_oom();
    for (size_t i = 0; i < vector->block_costs_len; i++) {
        json_object *block = json_object_array_get_idx(blocks, i);
        if (!u32_field(block, "pc", &vector->block_costs[i].pc, error) || !i64_field(block, "cost", &vector->block_costs[i].cost, error))
            return false;
    }
    return true;
}

static bool vector_load(const char *path, Vector *vector, char *error) {
    memset(vector, 0, sizeof(*vector));
    json_object *root = json_object_from_file(path);
    if (!root) {
        snprintf(error, REASON_SIZE, "unreadable test vector: %s", json_util_get_last_err());
        return false;
    }
    json_object *name, *program, *steps;
    bool ok = field(root, "name", json_type_string, &name, error) &&
              field(root, "program", json_type_array, &program, error) &&
              byte_array(program, &vector->program, &vector->program_len, error) &&
              u32_field(root, "initial-pc", &vector->initial_pc, error) &&
              i64_field(root, "initial-gas", &vector->initial_gas, error);
    if (ok) {
        vector->name = strdup(json_object_get_string(name));
        if (!vector->name) fail_oom();
        ok = json_object_object_get_ex(root, "steps", &steps) ? load_steps(root, steps, vector, error)
                                                                : load_flat(root, vector, error);
    }
    json_object_put(root);
    if (!ok) vector_free(vector);
    return ok;
}

/* ---- Running one vector ---------------------------------------------------------------------- */

static void append(char *reason, const char *format, ...) {
    size_t used = strlen(reason);
    if (used + 3 >= REASON_SIZE) return;
    if (used) {
        strcat(reason, "; ");
        used += 2;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(reason + used, REASON_SIZE - used, format, args);
    va_end(args);
}

static const char *status_name(uint32_t status, const char *expected) {
    switch (status) {
        case PVM_STATUS_HALT: return "halt";
        case PVM_STATUS_PANIC: return "panic";
        case PVM_STATUS_OOG: return "out-of-gas";
        case PVM_STATUS_FAULT: return "page-fault";
        /* "host" in v0.4, "ecalli" in the steps format. */
        case PVM_STATUS_HOST: return strcmp(expected, "ecalli") == 0 ? "ecalli" : "host";
        default: return "step";
    }
}

/* Every mapped byte must equal the expected memory, zero where it lists nothing. */
static void compare_memory(PvmInstance vm, const Expected *expected_state, const PageRange *mapped, size_t mapped_len,
                           char *reason) {
    for (size_t c = 0; c < expected_state->memory_len; c++) {
        const Chunk *chunk = &expected_state->memory[c];
        bool inside = false;
        for (size_t r = 0; r < mapped_len; r++)
            inside |= chunk->address >= mapped[r].address &&
                      (uint64_t)chunk->address + chunk->length <= (uint64_t)mapped[r].address + mapped[r].length;
        if (!inside) {
            append(reason, "expected memory at 0x%" PRIx32 " lies outside the mapped pages", chunk->address);
            return;
        }
    }
    for (size_t r = 0; r < mapped_len; r++) {
        const PageRange *range = &mapped[r];
        uint8_t *got = malloc(range->length ? range->length : 1), *expected = calloc(range->length ? range->length : 1, 1);
        if (!got || !expected) fail_oom();
        if (pvm_instance_read_memory(vm, range->address, got, range->length) != 0) {
            append(reason, "reading memory failed: %s", pvm_last_error());
        } else {
            for (size_t c = 0; c < expected_state->memory_len; c++) {
                const Chunk *chunk = &expected_state->memory[c];
                if (chunk->address >= range->address && chunk->address - range->address < range->length)
                    memcpy(expected + (chunk->address - range->address), chunk->contents, chunk->length);
            }
            for (uint32_t offset = 0; offset < range->length; offset++) {
                if (got[offset] != expected[offset]) {
                    append(reason, "memory at 0x%" PRIx32 " is 0x%02x, expected 0x%02x", range->address + offset, got[offset],
                           expected[offset]);
                    break;
                }
            }
        }
        free(got);
        free(expected);
    }
}

static void compare(PvmInstance vm, PvmResult result, const Expected *expected, const PageRange *mapped, size_t mapped_len,
                    char *reason) {
    const char *status = status_name(result.status, expected->status);
    if (strcmp(status, expected->status) != 0) append(reason, "status %s, expected %s", status, expected->status);
    uint64_t regs[PVM_REG_COUNT];
    pvm_instance_get_regs(vm, regs);
    for (uint32_t reg = 0; reg < PVM_REG_COUNT; reg++)
        if (regs[reg] != expected->regs[reg])
            append(reason, "r%" PRIu32 " = 0x%" PRIx64 ", expected 0x%" PRIx64, reg, regs[reg], expected->regs[reg]);
    uint32_t pc = pvm_instance_get_graypaper_pc(vm);
    if (pc != expected->pc) {
        if (pc == PVM_PC_NONE) append(reason, "pc none, expected %" PRIu32, expected->pc);
        else append(reason, "pc %" PRIu32 ", expected %" PRIu32, pc, expected->pc);
    }
    if (result.gas_remaining != expected->gas)
        append(reason, "gas %" PRId64 ", expected %" PRId64, result.gas_remaining, expected->gas);
    if (expected->has_fault) {
        uint32_t address = result.status == PVM_STATUS_FAULT ? pvm_instance_fault_address(vm) : 0;
        if (result.status != PVM_STATUS_FAULT || address != expected->fault_address)
            append(reason, "fault address 0x%" PRIx32 ", expected 0x%" PRIx32, address, expected->fault_address);
    }
    if (expected->has_host_call && (result.status != PVM_STATUS_HOST || result.host_call != expected->host_call))
        append(reason, "host call %" PRIu32 ", expected %" PRIu32, result.host_call, expected->host_call);
    compare_memory(vm, expected, mapped, mapped_len, reason);
}

/* Makes the read-only mapped pages that overlap [address, address + length) writable (`read_only`
 * 0) or read-only again (1); false on failure. */
static bool protect_overlapping(PvmInstance vm, const PageRange *mapped, size_t mapped_len, uint32_t address, size_t length,
                                uint32_t read_only) {
    for (size_t r = 0; r < mapped_len; r++) {
        const PageRange *range = &mapped[r];
        bool overlaps = (uint64_t)address < (uint64_t)range->address + range->length &&
                        (uint64_t)range->address < (uint64_t)address + length;
        if (!range->writable && overlaps && pvm_instance_protect_pages(vm, range->address, range->length, read_only) != 0)
            return false;
    }
    return true;
}

/* Runs `vector`'s steps; `reason` is left empty when every outcome is the expected one, and
 * otherwise says every way in which they differ. */
static void run_vector(PvmEngine engine, const Vector *vector, const PvmJamConfig *base_config, char *reason) {
    reason[0] = '\0';
    PvmJamConfig config = *base_config;
    config.halt_pc = 1;
    PvmModule module = pvm_module_new_jam(engine, vector->program, vector->program_len, &config);
    if (!module) {
        append(reason, "load failed: %s", pvm_last_error());
        return;
    }
    for (size_t i = 0; i < vector->block_costs_len; i++) {
        int64_t cost = pvm_module_block_gas_cost(module, vector->block_costs[i].pc);
        if (cost != vector->block_costs[i].cost)
            append(reason, "block at pc %" PRIu32 " costs %" PRId64 ", expected %" PRId64, vector->block_costs[i].pc, cost,
                   vector->block_costs[i].cost);
    }
    PvmInstance vm = pvm_instance_new(engine, module);
    pvm_module_free(module);
    if (!vm) {
        append(reason, "instantiate failed: %s", pvm_last_error());
        return;
    }
    pvm_instance_set_pc(vm, vector->initial_pc);
    pvm_instance_set_gas(vm, vector->initial_gas);
    PageRange *mapped = calloc(vector->steps_len ? vector->steps_len : 1, sizeof(PageRange));
    if (!mapped) fail_oom();
    size_t mapped_len = 0, runs = 0;
    PvmResult result = {0};
    for (size_t i = 0; i < vector->steps_len; i++) {
        const Step *step = &vector->steps[i];
        bool ok = true;
        switch (step->kind) {
            case STEP_MAP:
                ok = pvm_instance_map_pages(vm, step->map.address, step->map.length, step->map.writable ? 1 : 0) == 0;
                mapped[mapped_len++] = step->map;
                break;
            case STEP_WRITE:
                ok = protect_overlapping(vm, mapped, mapped_len, step->write.address, step->write.length, 0) &&
                     pvm_instance_write_memory(vm, step->write.address, step->write.contents, (uint32_t)step->write.length) == 0 &&
                     protect_overlapping(vm, mapped, mapped_len, step->write.address, step->write.length, 1);
                break;
            case STEP_SET_REG:
                pvm_clear_last_error();
                pvm_instance_set_reg(vm, step->reg, step->value);
                ok = pvm_last_error()[0] == '\0';
                break;
            case STEP_RUN:
                runs++;
                ok = pvm_instance_run_checked(vm, &result) == 0;
                break;
            case STEP_ASSERT: {
                char differences[REASON_SIZE] = "";
                if (runs == 0) {
                    append(reason, "an assert before any run");
                    break;
                }
                compare(vm, result, &step->expected, mapped, mapped_len, differences);
                if (differences[0] != '\0') {
                    if (runs > 1) append(reason, "after run %zu: %s", runs, differences);
                    else append(reason, "%s", differences);
                }
                break;
            }
        }
        if (!ok) {
            append(reason, "step %zu failed: %s", i, pvm_last_error());
            break;
        }
    }
    free(mapped);
    pvm_instance_free(vm);
}

/* ---- Main ------------------------------------------------------------------------------------ */

static double now_seconds(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

/* An engine that can actually run a JAM instance (the JIT's Linux sandbox fails here without
 * userfaultfd), or NULL with the reason in pvm_last_error(). */
static PvmEngine usable_engine(const Backend *backend) {
    PvmEngineConfig config = pvm_engine_config_default();
    config.backend = backend->backend;
    config.sandbox = backend->sandbox;
    config.allow_dynamic_paging = 1;
    PvmEngine engine = pvm_engine_new_with_config(&config);
    if (!engine) return NULL;
    static const uint8_t trap_only[] = {0, 0, 1, 0, 1};
    PvmJamConfig jam = pvm_jam_config_default();
    PvmModule module = pvm_module_new_jam(engine, trap_only, sizeof(trap_only), &jam);
    PvmInstance vm = module ? pvm_instance_new(engine, module) : NULL;
    pvm_module_free(module);
    if (!vm) {
        pvm_engine_free(engine);
        return NULL;
    }
    pvm_instance_free(vm);
    return engine;
}

static const char USAGE[] = "usage: %s [--backend interpreter|jit_generic|jit_linux]... [--isa jam_v1|revive_v1] "
                            "[--cost-model naive|full-l1|full-l2|full-l3] DIR_OR_FILE...\n";

/* A named choice from the command line. */
typedef struct {
    const char *name;
    uint32_t value;
} Choice;

static const Choice ISAS[] = {{"jam_v1", PVM_ISA_JAM_V1}, {"revive_v1", PVM_ISA_REVIVE_V1}};
static const Choice COST_MODELS[] = {{"naive", PVM_COST_MODEL_NAIVE},
                                     {"full-l1", PVM_COST_MODEL_FULL_L1_HIT},
                                     {"full-l2", PVM_COST_MODEL_FULL_L2_HIT},
                                     {"full-l3", PVM_COST_MODEL_FULL_L3_HIT}};

static bool choose(const Choice *choices, size_t count, const char *name, uint32_t *out) {
    for (size_t i = 0; i < count; i++) {
        if (strcmp(choices[i].name, name) == 0) {
            *out = choices[i].value;
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv) {
    const Backend *chosen[BACKEND_COUNT * 4];
    size_t chosen_count = 0;
    PathList roots = {0};
    PvmJamConfig config = pvm_jam_config_default();
    const char *isa_name = "jam_v1", *cost_model_name = "full-l2";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            size_t b = 0;
            while (b < BACKEND_COUNT && strcmp(BACKENDS[b].name, name) != 0) b++;
            if (b == BACKEND_COUNT || chosen_count == sizeof(chosen) / sizeof(chosen[0])) {
                fprintf(stderr, "conformance_runner: unknown backend \"%s\"\n", name);
                return 2;
            }
            chosen[chosen_count++] = &BACKENDS[b];
        } else if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
            isa_name = argv[++i];
            if (!choose(ISAS, sizeof(ISAS) / sizeof(ISAS[0]), isa_name, &config.isa)) {
                fprintf(stderr, "conformance_runner: unknown instruction set \"%s\"\n", isa_name);
                return 2;
            }
        } else if (strcmp(argv[i], "--cost-model") == 0 && i + 1 < argc) {
            cost_model_name = argv[++i];
            if (!choose(COST_MODELS, sizeof(COST_MODELS) / sizeof(COST_MODELS[0]), cost_model_name, &config.cost_model)) {
                fprintf(stderr, "conformance_runner: unknown cost model \"%s\"\n", cost_model_name);
                return 2;
            }
        } else if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, USAGE, argv[0]);
            return 2;
        } else {
            paths_push(&roots, argv[i]);
        }
    }
    if (roots.count == 0) {
        fprintf(stderr, USAGE, argv[0]);
        return 2;
    }
    bool explicit_backends = chosen_count > 0;
    if (!explicit_backends)
        for (size_t b = 0; b < DEFAULT_BACKEND_COUNT; b++) chosen[chosen_count++] = &BACKENDS[b];

    PathList paths = {0};
    for (size_t i = 0; i < roots.count; i++)
        if (!collect_vectors(roots.items[i], &paths)) return 2;
    printf("C ABI: %zu test vectors (isa %s, cost model %s); %s\n", paths.count, isa_name, cost_model_name, pvm_version());

    bool all_passed = true;
    char summary[BACKEND_COUNT * 4][160];
    size_t summaries = 0;
    for (size_t b = 0; b < chosen_count; b++) {
        const Backend *backend = chosen[b];
        PvmEngine engine = usable_engine(backend);
        if (!engine) {
            printf("%s: unavailable on this machine: %s\n", backend->name, pvm_last_error());
            all_passed = false;
            continue;
        }
        size_t passed = 0, failed = 0;
        double started = now_seconds();
        for (size_t v = 0; v < paths.count; v++) {
            char reason[REASON_SIZE];
            Vector vector;
            if (!vector_load(paths.items[v], &vector, reason)) {
                printf("  %s FAILED %s: %s\n", backend->name, paths.items[v], reason);
                failed++;
                continue;
            }
            run_vector(engine, &vector, &config, reason);
            if (reason[0] == '\0') {
                passed++;
            } else {
                failed++;
                printf("  %s FAILED %s: %s\n", backend->name, vector.name, reason);
            }
            vector_free(&vector);
        }
        double elapsed = now_seconds() - started;
        pvm_engine_free(engine);
        all_passed &= failed == 0;
        printf("%s: wall time %.2f s\n", backend->name, elapsed);
        snprintf(summary[summaries++], sizeof(summary[0]), "%s: %zu passed, %zu failed", backend->name, passed, failed);
    }
    for (size_t s = 0; s < summaries; s++) puts(summary[s]);
    for (size_t i = 0; i < roots.count; i++) free(roots.items[i]);
    for (size_t i = 0; i < paths.count; i++) free(paths.items[i]);
    free(roots.items);
    free(paths.items);
    return all_passed && summaries > 0 ? 0 : 1;
}
