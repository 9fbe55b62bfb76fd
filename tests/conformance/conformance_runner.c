/*
 * Runs JAM PVM test vectors (JSON, read with json-c) through the pvm_* C ABI on the given backends
 * and prints, per backend, "N passed, N failed", every failure with its reason, and the wall time.
 *
 *   conformance_runner [--backend interpreter|jit_generic|jit_linux]... DIR_OR_FILE...
 *
 * Without --backend it runs the interpreter and the JIT with the generic sandbox. A vector that
 * fails with PVM_ISA_JAM_V1 is run again with PVM_ISA_REVIVE_V1, the instruction set that keeps the
 * opcode numbering of older Graypapers; if it passes there, its failure is reported as due to that
 * numbering alone. Exit status: 0 when every failure is of that kind, 1 otherwise, 2 on bad usage.
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

typedef struct {
    char *name;
    uint8_t *program;
    size_t program_len;
    uint64_t initial_regs[PVM_REG_COUNT];
    uint32_t initial_pc;
    int64_t initial_gas;
    PageRange *page_map;
    size_t page_map_len;
    Chunk *initial_memory;
    size_t initial_memory_len;
    char *expected_status;
    uint64_t expected_regs[PVM_REG_COUNT];
    uint32_t expected_pc;
    int64_t expected_gas;
    Chunk *expected_memory;
    size_t expected_memory_len;
    bool has_expected_fault;
    uint32_t expected_fault_address;
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

static bool chunks(json_object *object, const char *key, Chunk **out, size_t *len, char *error) {
    json_object *array;
    if (!field(object, key, json_type_array, &array, error)) return false;
    *len = json_object_array_length(array);
    *out = calloc(*len ? *len : 1, sizeof(Chunk));
    if (!*out) fail_oom();
    for (size_t i = 0; i < *len; i++) {
        json_object *chunk = json_object_array_get_idx(array, i), *contents;
        if (!u32_field(chunk, "address", &(*out)[i].address, error) ||
            !field(chunk, "contents", json_type_array, &contents, error) ||
            !byte_array(contents, &(*out)[i].contents, &(*out)[i].length, error))
            return false;
    }
    return true;
}

static void vector_free(Vector *vector) {
    free(vector->name);
    free(vector->program);
    free(vector->page_map);
    for (size_t i = 0; i < vector->initial_memory_len; i++) free(vector->initial_memory[i].contents);
    free(vector->initial_memory);
    free(vector->expected_status);
    for (size_t i = 0; i < vector->expected_memory_len; i++) free(vector->expected_memory[i].contents);
    free(vector->expected_memory);
    memset(vector, 0, sizeof(*vector));
}

static bool vector_load(const char *path, Vector *vector, char *error) {
    memset(vector, 0, sizeof(*vector));
    json_object *root = json_object_from_file(path);
    if (!root) {
        snprintf(error, REASON_SIZE, "unreadable test vector: %s", json_util_get_last_err());
        return false;
    }
    json_object *name, *program, *page_map, *status, *gas, *fault;
    bool ok = field(root, "name", json_type_string, &name, error) &&
              field(root, "program", json_type_array, &program, error) &&
              byte_array(program, &vector->program, &vector->program_len, error) &&
              registers(root, "initial-regs", vector->initial_regs, error) &&
              u32_field(root, "initial-pc", &vector->initial_pc, error) &&
              field(root, "initial-gas", json_type_int, &gas, error) &&
              field(root, "initial-page-map", json_type_array, &page_map, error) &&
              chunks(root, "initial-memory", &vector->initial_memory, &vector->initial_memory_len, error) &&
              field(root, "expected-status", json_type_string, &status, error) &&
              registers(root, "expected-regs", vector->expected_regs, error) &&
              u32_field(root, "expected-pc", &vector->expected_pc, error) &&
              chunks(root, "expected-memory", &vector->expected_memory, &vector->expected_memory_len, error);
    if (ok) {
        vector->name = strdup(json_object_get_string(name));
        vector->expected_status = strdup(json_object_get_string(status));
        if (!vector->name || !vector->expected_status) fail_oom();
        vector->initial_gas = json_object_get_int64(gas);
        ok = field(root, "expected-gas", json_type_int, &gas, error);
        vector->expected_gas = json_object_get_int64(gas);
    }
    if (ok) {
        vector->page_map_len = json_object_array_length(page_map);
        vector->page_map = calloc(vector->page_map_len ? vector->page_map_len : 1, sizeof(PageRange));
        if (!vector->page_map) fail_oom();
        for (size_t i = 0; ok && i < vector->page_map_len; i++) {
            json_object *range = json_object_array_get_idx(page_map, i), *writable;
            ok = u32_field(range, "address", &vector->page_map[i].address, error) &&
                 u32_field(range, "length", &vector->page_map[i].length, error) &&
                 field(range, "is-writable", json_type_boolean, &writable, error);
            if (ok) vector->page_map[i].writable = json_object_get_boolean(writable);
        }
    }
    if (ok && json_object_object_get_ex(root, "expected-page-fault-address", &fault)) {
        vector->has_expected_fault = true;
        ok = u32_field(root, "expected-page-fault-address", &vector->expected_fault_address, error);
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

static const char *status_name(uint32_t status) {
    switch (status) {
        case PVM_STATUS_HALT: return "halt";
        case PVM_STATUS_PANIC: return "panic";
        case PVM_STATUS_OOG: return "out-of-gas";
        case PVM_STATUS_FAULT: return "page-fault";
        case PVM_STATUS_HOST: return "host";
        default: return "step";
    }
}

static void compare_memory(PvmInstance vm, const Vector *vector, char *reason) {
    for (size_t c = 0; c < vector->expected_memory_len; c++) {
        const Chunk *chunk = &vector->expected_memory[c];
        bool inside = false;
        for (size_t r = 0; r < vector->page_map_len; r++) {
            const PageRange *range = &vector->page_map[r];
            inside |= chunk->address >= range->address &&
                      (uint64_t)chunk->address + chunk->length <= (uint64_t)range->address + range->length;
        }
        if (!inside) {
            append(reason, "expected memory at 0x%" PRIx32 " lies outside the page map", chunk->address);
            return;
        }
    }
    for (size_t r = 0; r < vector->page_map_len; r++) {
        const PageRange *range = &vector->page_map[r];
        uint8_t *got = malloc(range->length ? range->length : 1), *expected = calloc(range->length ? range->length : 1, 1);
        if (!got || !expected) fail_oom();
        if (pvm_instance_read_memory(vm, range->address, got, range->length) != 0) {
            append(reason, "reading memory failed: %s", pvm_last_error());
        } else {
            for (size_t c = 0; c < vector->expected_memory_len; c++) {
                const Chunk *chunk = &vector->expected_memory[c];
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

/* Runs `vector` with instruction set `isa`; `reason` is left empty when the outcome is the
 * expected one, and otherwise says every way in which it differs. */
static void run_vector(PvmEngine engine, const Vector *vector, uint32_t isa, char *reason) {
    reason[0] = '\0';
    PvmJamConfig config = pvm_jam_config_default();
    config.isa = isa;
    config.halt_pc = 1;
    PvmModule module = pvm_module_new_jam(engine, vector->program, vector->program_len, &config);
    if (!module) {
        append(reason, "load failed: %s", pvm_last_error());
        return;
    }
    PvmInstance vm = pvm_instance_new(engine, module);
    pvm_module_free(module);
    if (!vm) {
        append(reason, "instantiate failed: %s", pvm_last_error());
        return;
    }
    bool ready = true;
    for (size_t i = 0; ready && i < vector->page_map_len; i++)
        ready = pvm_instance_map_pages(vm, vector->page_map[i].address, vector->page_map[i].length, 1) == 0;
    for (size_t i = 0; ready && i < vector->initial_memory_len; i++) {
        const Chunk *chunk = &vector->initial_memory[i];
        ready = pvm_instance_write_memory(vm, chunk->address, chunk->contents, (uint32_t)chunk->length) == 0;
    }
    for (size_t i = 0; ready && i < vector->page_map_len; i++)
        if (!vector->page_map[i].writable)
            ready = pvm_instance_protect_pages(vm, vector->page_map[i].address, vector->page_map[i].length, 1) == 0;
    if (!ready || pvm_instance_set_regs(vm, vector->initial_regs) != 0) {
        append(reason, "setting up memory or registers failed: %s", pvm_last_error());
        pvm_instance_free(vm);
        return;
    }
    pvm_instance_set_pc(vm, vector->initial_pc);
    pvm_instance_set_gas(vm, vector->initial_gas);
    PvmResult result = pvm_instance_run(vm);

    const char *status = status_name(result.status);
    if (strcmp(status, vector->expected_status) != 0)
        append(reason, "status %s, expected %s", status, vector->expected_status);
    uint64_t regs[PVM_REG_COUNT];
    pvm_instance_get_regs(vm, regs);
    for (uint32_t reg = 0; reg < PVM_REG_COUNT; reg++)
        if (regs[reg] != vector->expected_regs[reg])
            append(reason, "r%" PRIu32 " = 0x%" PRIx64 ", expected 0x%" PRIx64, reg, regs[reg], vector->expected_regs[reg]);
    uint32_t pc = pvm_instance_get_graypaper_pc(vm);
    if (pc != vector->expected_pc) {
        if (pc == PVM_PC_NONE) append(reason, "pc none, expected %" PRIu32, vector->expected_pc);
        else append(reason, "pc %" PRIu32 ", expected %" PRIu32, pc, vector->expected_pc);
    }
    if (result.gas_remaining != vector->expected_gas)
        append(reason, "gas %" PRId64 ", expected %" PRId64, result.gas_remaining, vector->expected_gas);
    if (vector->has_expected_fault) {
        uint32_t address = result.status == PVM_STATUS_FAULT ? pvm_instance_fault_address(vm) : 0;
        if (result.status != PVM_STATUS_FAULT || address != vector->expected_fault_address)
            append(reason, "fault address 0x%" PRIx32 ", expected 0x%" PRIx32, address, vector->expected_fault_address);
    }
    compare_memory(vm, vector, reason);
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

int main(int argc, char **argv) {
    const Backend *chosen[BACKEND_COUNT * 4];
    size_t chosen_count = 0;
    PathList roots = {0};
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
        } else if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "usage: %s [--backend interpreter|jit_generic|jit_linux]... DIR_OR_FILE...\n", argv[0]);
            return 2;
        } else {
            paths_push(&roots, argv[i]);
        }
    }
    if (roots.count == 0) {
        fprintf(stderr, "usage: %s [--backend interpreter|jit_generic|jit_linux]... DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    bool explicit_backends = chosen_count > 0;
    if (!explicit_backends)
        for (size_t b = 0; b < DEFAULT_BACKEND_COUNT; b++) chosen[chosen_count++] = &BACKENDS[b];

    PathList paths = {0};
    for (size_t i = 0; i < roots.count; i++)
        if (!collect_vectors(roots.items[i], &paths)) return 2;
    printf("%zu test vectors; %s\n", paths.count, pvm_version());

    bool all_explained = true;
    char summary[BACKEND_COUNT * 4][160];
    size_t summaries = 0;
    for (size_t b = 0; b < chosen_count; b++) {
        const Backend *backend = chosen[b];
        PvmEngine engine = usable_engine(backend);
        if (!engine) {
            printf("%s: unavailable on this machine: %s\n", backend->name, pvm_last_error());
            all_explained = false;
            continue;
        }
        size_t passed = 0, failed = 0, old_numbering = 0;
        double started = now_seconds();
        for (size_t v = 0; v < paths.count; v++) {
            char reason[REASON_SIZE], retry[REASON_SIZE];
            Vector vector;
            if (!vector_load(paths.items[v], &vector, reason)) {
                printf("  %s FAILED %s: %s\n", backend->name, paths.items[v], reason);
                failed++;
                all_explained = false;
                continue;
            }
            run_vector(engine, &vector, PVM_ISA_JAM_V1, reason);
            if (reason[0] == '\0') {
                passed++;
            } else {
                failed++;
                run_vector(engine, &vector, PVM_ISA_REVIVE_V1, retry);
                if (retry[0] == '\0') {
                    old_numbering++;
                    printf("  %s FAILED %s: fails with jam_v1 (%s); passes with revive_v1 (PVM_ISA_REVIVE_V1), "
                           "which keeps the older Graypaper's opcode numbering\n",
                           backend->name, vector.name, reason);
                } else {
                    all_explained = false;
                    printf("  %s FAILED %s: %s\n", backend->name, vector.name, reason);
                }
            }
            vector_free(&vector);
        }
        double elapsed = now_seconds() - started;
        pvm_engine_free(engine);
        printf("%s: wall time %.2f s; %zu of the %zu failures are the old opcode numbering only\n", backend->name,
               elapsed, old_numbering, failed);
        snprintf(summary[summaries++], sizeof(summary[0]), "%s: %zu passed, %zu failed", backend->name, passed, failed);
    }
    for (size_t s = 0; s < summaries; s++) puts(summary[s]);
    for (size_t i = 0; i < roots.count; i++) free(roots.items[i]);
    for (size_t i = 0; i < paths.count; i++) free(paths.items[i]);
    free(roots.items);
    free(paths.items);
    if (!explicit_backends && summaries == 0) return 1;
    return all_explained ? 0 : 1;
}
