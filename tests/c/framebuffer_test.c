/* pvm_instance_read_framebuffer (feature `doom`) through the real shared library, on both
 * backends: a guest assembled from tests/programs/framebuffer.pvmasm writes known pixels, read
 * back as palette-indexed, BGRA and RGBA images. Usage: framebuffer_test PROGRAMS_DIR */
#include "check.h"

#define SEED 0x11223344u
#define WORDS 16384u /* 64 KiB of the guest's rw data */

/* The bytes the guest's `fill` writes: little-endian words SEED + i * 0x01030507. */
static uint8_t filled(uint32_t offset) {
    uint32_t word = SEED + (offset / 4) * 0x01030507u;
    return (uint8_t)(word >> (8 * (offset % 4)));
}

/* RGB of pixel (x, y) of an image at offset 0 of the filled memory. */
static void expected_pixel(uint32_t format, uint32_t stride, uint32_t x, uint32_t y, uint8_t rgb[3]) {
    if (format == PVM_PIXEL_FORMAT_PALETTE8) {
        uint8_t index = filled(769 + y * stride + x);
        for (int c = 0; c < 3; c++) rgb[c] = filled(1 + 3 * (uint32_t)index + (uint32_t)c);
    } else {
        uint32_t at = y * stride + 4 * x;
        int bgra = format == PVM_PIXEL_FORMAT_BGRA32;
        rgb[0] = filled(at + (bgra ? 2 : 0));
        rgb[1] = filled(at + 1);
        rgb[2] = filled(at + (bgra ? 0 : 2));
    }
}

static void check_image(PvmInstance instance, uint32_t base, uint32_t format, uint32_t width, uint32_t height, uint32_t stride) {
    size_t size = (size_t)width * height * 3;
    uint8_t *rgb = malloc(size + 1);
    rgb[size] = 0xab; /* nothing past the image is written */
    CHECK(pvm_instance_read_framebuffer(instance, base, width, height, stride, format, rgb, (uint32_t)size + 1) == 0);
    int mismatches = 0;
    for (uint32_t y = 0; y < height; y++) {
        for (uint32_t x = 0; x < width; x++) {
            uint8_t want[3];
            expected_pixel(format, stride, x, y, want);
            mismatches += memcmp(want, rgb + 3 * ((size_t)y * width + x), 3) != 0;
        }
    }
    CHECK(mismatches == 0);
    CHECK(rgb[size] == 0xab);
    free(rgb);
}

static void test_backend(const uint8_t *program, size_t program_len, uint32_t backend) {
    PvmEngine engine = backend == PVM_BACKEND_INTERPRETER ? pvm_engine_new_interpreter() : pvm_engine_new();
    PvmModule module = pvm_module_new(engine, program, program_len);
    PvmInstance instance = pvm_instance_new(engine, module);
    CHECK(instance != NULL);
    uint32_t base = pvm_module_memory_info(module).rw_data_address;

    int32_t fill = pvm_module_find_export(module, (const uint8_t *)"fill", 4);
    uint64_t args[3] = {base, WORDS, SEED};
    CHECK(pvm_instance_prepare_call_args(instance, pvm_module_export_pc(module, (uint32_t)fill), args, 3) == 0);
    pvm_instance_set_gas(instance, 10000000);
    CHECK(pvm_instance_run(instance).status == PVM_STATUS_HALT);

    /* The first pixel straight from the formula, 0x11223344: B=0x44, G=0x33, R=0x22, A=0x11. */
    uint8_t pixel[3];
    CHECK(pvm_instance_read_framebuffer(instance, base, 1, 1, 4, PVM_PIXEL_FORMAT_BGRA32, pixel, 3) == 0);
    CHECK(pixel[0] == 0x22 && pixel[1] == 0x33 && pixel[2] == 0x44);
    CHECK(pvm_instance_read_framebuffer(instance, base, 1, 1, 4, PVM_PIXEL_FORMAT_RGBA32, pixel, 3) == 0);
    CHECK(pixel[0] == 0x44 && pixel[1] == 0x33 && pixel[2] == 0x22);

    check_image(instance, base, PVM_PIXEL_FORMAT_BGRA32, 64, 40, 256);
    check_image(instance, base, PVM_PIXEL_FORMAT_BGRA32, 10, 7, 48);
    check_image(instance, base, PVM_PIXEL_FORMAT_RGBA32, 10, 7, 40);
    check_image(instance, base, PVM_PIXEL_FORMAT_PALETTE8, 13, 5, 17);
    check_image(instance, base, PVM_PIXEL_FORMAT_PALETTE8, 320, 200, 320);

    /* The original function reads the 320x200 palette layout exactly as the new one does. */
    uint8_t *old = malloc(PVM_DOOM_RGB24_SIZE), *new = malloc(PVM_DOOM_RGB24_SIZE);
    CHECK(pvm_instance_read_framebuffer_rgb24(instance, base, PVM_DOOM_FRAMEBUFFER_SIZE, old, PVM_DOOM_RGB24_SIZE) == 0);
    CHECK(pvm_instance_read_framebuffer(instance, base, 320, 200, 320, PVM_PIXEL_FORMAT_PALETTE8, new, PVM_DOOM_RGB24_SIZE) == 0);
    CHECK(memcmp(old, new, PVM_DOOM_RGB24_SIZE) == 0);
    free(old);
    free(new);

    /* Every size is checked. */
    uint8_t rgb[300];
    CHECK(pvm_instance_read_framebuffer(instance, base, 0, 7, 40, PVM_PIXEL_FORMAT_BGRA32, rgb, 300) == -1);
    CHECK_ERROR_CONTAINS("framebuffer is 0x7: width and height must be non-zero");
    CHECK(pvm_instance_read_framebuffer(instance, base, 10, 0, 40, PVM_PIXEL_FORMAT_BGRA32, rgb, 300) == -1);
    CHECK(pvm_instance_read_framebuffer(instance, base, 10, 7, 39, PVM_PIXEL_FORMAT_BGRA32, rgb, 300) == -1);
    CHECK_ERROR_CONTAINS("stride 39 is below one row of 10 pixels (40 bytes)");
    CHECK(pvm_instance_read_framebuffer(instance, base, 10, 10, 40, PVM_PIXEL_FORMAT_RGBA32, rgb, 299) == -1);
    CHECK_ERROR_CONTAINS("the RGB24 buffer of 299 bytes is below the 300 bytes a 10x10 image needs");
    CHECK(pvm_instance_read_framebuffer(instance, base, 10, 10, 40, 3, rgb, 300) == -1);
    CHECK_ERROR_CONTAINS("pixel format 3 is unknown");
    CHECK(pvm_instance_read_framebuffer(instance, 0xffffff00u, 10, 10, 40, PVM_PIXEL_FORMAT_BGRA32, rgb, 300) == -1);
    CHECK_ERROR_CONTAINS("framebuffer of 400 bytes at 0xffffff00 runs past the end of the address space");
    CHECK(pvm_instance_read_framebuffer(instance, 0x10000000u, 65536, 65536, 0xffffffffu, PVM_PIXEL_FORMAT_RGBA32, rgb, 300) == -1);
    CHECK(pvm_instance_read_framebuffer(instance, 0, 10, 10, 40, PVM_PIXEL_FORMAT_BGRA32, rgb, 300) == -1);
    CHECK_ERROR_CONTAINS("read of 400 bytes at 0x00000000 failed");
    CHECK(pvm_instance_read_framebuffer(instance, base, 10, 10, 40, PVM_PIXEL_FORMAT_BGRA32, NULL, 300) == -1);
    CHECK_ERROR_CONTAINS("rgb is NULL");
    CHECK(pvm_instance_read_framebuffer(NULL, base, 10, 10, 40, PVM_PIXEL_FORMAT_BGRA32, rgb, 300) == -1);
    CHECK_ERROR_CONTAINS("instance handle is NULL");

    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
}

int main(int argc, char **argv) {
    size_t program_len;
    uint8_t *program = read_program(argc, argv, "framebuffer.polkavm", &program_len);
    int backend_count = getenv("PVM_TEST_INTERPRETER_ONLY") ? 1 : 2;
    static const uint32_t backends[2] = {PVM_BACKEND_INTERPRETER, PVM_BACKEND_COMPILER};
    for (int b = 0; b < backend_count; b++) {
        int before = check_failures;
        test_backend(program, program_len, backends[b]);
        printf("%s framebuffer [%s]\n", check_failures == before ? "PASS" : "FAIL", b == 0 ? "interpreter" : "jit");
    }
    free(program);
    return check_failures == 0 ? 0 : 1;
}
