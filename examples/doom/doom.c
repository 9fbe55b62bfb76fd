/* Runs polkavm's Doom guest headless through the pvm_* C ABI: N ticks, then prints frames per
 * second and host calls per frame, and writes the last frame as a PNG.
 *
 *   doom DOOM.polkavm WAD [--ticks N] [--warmup N] [--png OUT.png] [--interpreter]
 *
 * The guest imports ext_output_video(address, width, height) (a BGRA frame),
 * ext_output_audio(address, samples), ext_rom_size() -> size, ext_rom_read(pointer, offset,
 * length) and ext_stdout(buffer, length) -> written; it exports ext_initialize and ext_tick. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "polkavm_ffi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

enum import { OUTPUT_VIDEO, OUTPUT_AUDIO, ROM_SIZE, ROM_READ, STDOUT, IMPORT_COUNT };
static const char *const import_names[IMPORT_COUNT] = {"ext_output_video", "ext_output_audio", "ext_rom_size",
                                                       "ext_rom_read", "ext_stdout"};

struct host {
    PvmInstance vm;
    enum import *imports; /* by host-call number */
    uint32_t import_count;
    uint8_t *rom;
    uint32_t rom_size;
    uint8_t *rgb; /* the last frame, packed RGB24 */
    uint32_t width, height;
    uint64_t host_calls;
};

static void die(const char *what) {
    fprintf(stderr, "doom: %s: %s\n", what, pvm_last_error());
    exit(1);
}

static uint8_t *read_file(const char *path, uint32_t *size) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "doom: cannot open %s\n", path);
        exit(1);
    }
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *data = malloc(length > 0 ? (size_t)length : 1);
    if (!data || fread(data, 1, (size_t)length, file) != (size_t)length) {
        fprintf(stderr, "doom: cannot read %s\n", path);
        exit(1);
    }
    fclose(file);
    *size = (uint32_t)length;
    return data;
}

static uint64_t reg(struct host *host, uint32_t r) { return pvm_instance_get_reg(host->vm, r); }

/* Serves host call `number`; a result for the guest goes to *result_reg (A0) and *result. */
static void on_host_call(struct host *host, uint32_t number, uint32_t *result_reg, uint64_t *result) {
    host->host_calls++;
    if (number >= host->import_count) {
        fprintf(stderr, "doom: host call %u is not an import\n", number);
        exit(1);
    }
    switch (host->imports[number]) {
    case OUTPUT_VIDEO: {
        uint32_t address = (uint32_t)reg(host, PVM_REG_A0), width = (uint32_t)reg(host, PVM_REG_A1),
                 height = (uint32_t)reg(host, PVM_REG_A2);
        if (width != host->width || height != host->height) {
            free(host->rgb);
            host->rgb = malloc((size_t)width * height * 3 + 1);
            host->width = width;
            host->height = height;
        }
        if (pvm_instance_read_framebuffer(host->vm, address, width, height, width * 4, PVM_PIXEL_FORMAT_BGRA32, host->rgb,
                                          width * height * 3) != 0)
            die("ext_output_video");
        break;
    }
    case OUTPUT_AUDIO: /* headless: no sound */
        break;
    case ROM_SIZE:
        *result_reg = PVM_REG_A0;
        *result = host->rom_size;
        break;
    case ROM_READ: {
        uint32_t pointer = (uint32_t)reg(host, PVM_REG_A0), offset = (uint32_t)reg(host, PVM_REG_A1),
                 length = (uint32_t)reg(host, PVM_REG_A2);
        if ((uint64_t)offset + length > host->rom_size) {
            fprintf(stderr, "doom: invalid ROM read: offset = 0x%x, length = %u\n", offset, length);
            exit(1);
        }
        if (pvm_instance_write_memory(host->vm, pointer, host->rom + offset, length) != 0) die("ext_rom_read");
        break;
    }
    case STDOUT: {
        uint32_t buffer = (uint32_t)reg(host, PVM_REG_A0), length = (uint32_t)reg(host, PVM_REG_A1);
        uint8_t *text = malloc(length ? length : 1);
        if (pvm_instance_read_memory(host->vm, buffer, text, length) != 0) die("ext_stdout");
        fwrite(text, 1, length, stdout);
        free(text);
        *result_reg = PVM_REG_A0;
        *result = length;
        break;
    }
    default:
        fprintf(stderr, "doom: the guest calls an import this host does not provide\n");
        exit(1);
    }
}

/* Calls export `pc` and serves its host calls until it returns. pvm_instance_resume hands each
 * result back and runs on in one call. */
static void call(struct host *host, uint32_t pc, const char *name) {
    if (pvm_instance_prepare_call(host->vm, pc) != 0) die(name);
    uint32_t number = 0, result_reg = PVM_REG_NONE;
    uint64_t result = 0;
    int32_t status;
    while ((status = pvm_instance_resume(host->vm, result_reg, result, &number)) == PVM_STATUS_HOST) {
        result_reg = PVM_REG_NONE;
        on_host_call(host, number, &result_reg, &result);
    }
    if (status != PVM_STATUS_HALT) {
        fprintf(stderr, "doom: %s stopped with status %d (pc %u) %s\n", name, status, pvm_instance_get_pc(host->vm),
                status < 0 ? pvm_last_error() : "");
        exit(1);
    }
}

static uint32_t export_pc(PvmModule module, const char *name) {
    int32_t index = pvm_module_find_export(module, (const uint8_t *)name, strlen(name));
    if (index < 0) {
        fprintf(stderr, "doom: the guest has no export %s\n", name);
        exit(1);
    }
    return pvm_module_export_pc(module, (uint32_t)index);
}

static void put_u32(FILE *file, uint32_t value) {
    uint8_t bytes[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8), (uint8_t)value};
    fwrite(bytes, 1, 4, file);
}

static void put_chunk(FILE *file, const char *type, const uint8_t *data, uint32_t length) {
    put_u32(file, length);
    fwrite(type, 1, 4, file);
    fwrite(data, 1, length, file);
    uLong crc = crc32(crc32(0, Z_NULL, 0), (const Bytef *)type, 4);
    if (length) crc = crc32(crc, data, length); /* crc32 of Z_NULL is the initial value, not a no-op */
    put_u32(file, (uint32_t)crc);
}

/* An 8-bit RGB PNG: each row filter type 0, zlib-compressed. */
static void write_png(const char *path, const uint8_t *rgb, uint32_t width, uint32_t height) {
    size_t row = (size_t)width * 3, raw_size = (row + 1) * height;
    uint8_t *raw = malloc(raw_size);
    for (uint32_t y = 0; y < height; y++) {
        raw[y * (row + 1)] = 0;
        memcpy(raw + y * (row + 1) + 1, rgb + y * row, row);
    }
    uLongf packed_size = compressBound(raw_size);
    uint8_t *packed = malloc(packed_size);
    if (compress2(packed, &packed_size, raw, raw_size, 6) != Z_OK) {
        fprintf(stderr, "doom: zlib failed\n");
        exit(1);
    }
    FILE *file = fopen(path, "wb");
    if (!file) {
        fprintf(stderr, "doom: cannot write %s\n", path);
        exit(1);
    }
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, file);
    uint8_t header[13] = {(uint8_t)(width >> 24), (uint8_t)(width >> 16), (uint8_t)(width >> 8), (uint8_t)width,
                          (uint8_t)(height >> 24), (uint8_t)(height >> 16), (uint8_t)(height >> 8), (uint8_t)height,
                          8, 2, 0, 0, 0};
    put_chunk(file, "IHDR", header, sizeof header);
    put_chunk(file, "IDAT", packed, (uint32_t)packed_size);
    put_chunk(file, "IEND", NULL, 0);
    fclose(file);
    free(packed);
    free(raw);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *guest_path = NULL, *wad_path = NULL, *png_path = "doom.png";
    long ticks = 300, warmup = 0;
    uint32_t backend = PVM_BACKEND_AUTO;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ticks") && i + 1 < argc) ticks = atol(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atol(argv[++i]);
        else if (!strcmp(argv[i], "--png") && i + 1 < argc) png_path = argv[++i];
        else if (!strcmp(argv[i], "--interpreter")) backend = PVM_BACKEND_INTERPRETER;
        else if (!guest_path) guest_path = argv[i];
        else if (!wad_path) wad_path = argv[i];
        else guest_path = NULL, i = argc;
    }
    if (!guest_path || !wad_path || ticks < 1 || warmup < 0) {
        fprintf(stderr, "usage: %s DOOM.polkavm WAD [--ticks N] [--warmup N] [--png OUT.png] [--interpreter]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* polkavm's sandbox forks: no unflushed output to inherit */

    struct host host = {0};
    uint32_t blob_size;
    uint8_t *blob = read_file(guest_path, &blob_size);
    host.rom = read_file(wad_path, &host.rom_size);

    PvmEngineConfig engine_config = pvm_engine_config_default();
    engine_config.backend = backend;
    PvmEngine engine = pvm_engine_new_with_config(&engine_config);
    if (!engine) die("engine");
    PvmModuleConfig module_config = pvm_module_config_default();
    module_config.gas_metering = PVM_GAS_METERING_NONE;
    module_config.page_size = 0x4000; /* as polkavm's own Doom host */
    PvmModule module = pvm_module_new_with_config(engine, blob, blob_size, &module_config);
    if (!module) die(guest_path);
    host.vm = pvm_instance_new(engine, module);
    if (!host.vm) die("instance");

    host.import_count = pvm_module_imports_count(module);
    host.imports = calloc(host.import_count + 1, sizeof *host.imports);
    for (uint32_t i = 0; i < host.import_count; i++) {
        char name[64] = {0};
        int32_t length = pvm_module_import_name(module, i, (uint8_t *)name, sizeof name - 1);
        host.imports[i] = IMPORT_COUNT;
        for (int known = 0; known < IMPORT_COUNT; known++)
            if (length >= 0 && (size_t)length < sizeof name && !strcmp(name, import_names[known])) host.imports[i] = (enum import)known;
    }

    call(&host, export_pc(module, "ext_initialize"), "ext_initialize");
    uint32_t tick = export_pc(module, "ext_tick");
    for (long i = 0; i < warmup; i++) call(&host, tick, "ext_tick");
    host.host_calls = 0;
    double start = now();
    for (long i = 0; i < ticks; i++) call(&host, tick, "ext_tick");
    double seconds = now() - start;

    printf("%ld frames in %.3f s: %.1f fps, %.1f host calls per frame (%s)\n", ticks, seconds, (double)ticks / seconds,
           (double)host.host_calls / (double)ticks, pvm_engine_backend(engine) == PVM_BACKEND_INTERPRETER ? "interpreter" : "jit");
    if (!host.rgb) {
        fprintf(stderr, "doom: the guest never called ext_output_video\n");
        return 1;
    }
    write_png(png_path, host.rgb, host.width, host.height);
    printf("last frame (%ux%u) written to %s\n", host.width, host.height, png_path);

    free(host.rgb);
    free(host.imports);
    free(host.rom);
    free(blob);
    pvm_instance_free(host.vm);
    pvm_module_free(module);
    pvm_engine_free(engine);
    return 0;
}
