// pvm::Instance::read_framebuffer on tests/programs/framebuffer.pvmasm, whose `fill` writes
// known pixels (word i = seed + i * 0x01030507), on both backends.
#include "polkavm_ffi.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr uint32_t seed = 0x11223344u;

uint8_t filled(uint32_t offset) {
    uint32_t word = seed + (offset / 4) * 0x01030507u;
    return static_cast<uint8_t>(word >> (8 * (offset % 4)));
}

class Framebuffer : public testing::TestWithParam<pvm::Backend> {
protected:
    static std::vector<uint8_t> program() {
        std::ifstream file(PVM_FRAMEBUFFER_PROGRAM, std::ios::binary);
        if (!file) throw std::runtime_error(PVM_FRAMEBUFFER_PROGRAM " is missing: run `make programs`");
        return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {});
    }
    void SetUp() override {
        base = module.memory_info().rw_data_address;
        ASSERT_EQ(instance.call("fill", {base, 16384, seed}, 10000000).status, pvm::Status::Halt);
    }
    pvm::Engine engine{pvm::EngineConfig().backend(GetParam())};
    pvm::Module module{engine, program()};
    pvm::Instance instance{engine, module};
    uint32_t base = 0;
};

INSTANTIATE_TEST_SUITE_P(Backends, Framebuffer, testing::Values(pvm::Backend::Interpreter, pvm::Backend::Compiler),
                         [](const testing::TestParamInfo<pvm::Backend> &info) {
                             return info.param == pvm::Backend::Interpreter ? "Interpreter" : "Compiler";
                         });

TEST_P(Framebuffer, FormatsConvertToPackedRgb24) {
    // 0x11223344 little-endian is B=0x44, G=0x33, R=0x22.
    pvm::Framebuffer pixel{base, 1, 1, 4, pvm::PixelFormat::Bgra32};
    EXPECT_EQ(instance.read_framebuffer(pixel), (std::vector<uint8_t>{0x22, 0x33, 0x44}));
    pixel.format = pvm::PixelFormat::Rgba32;
    EXPECT_EQ(instance.read_framebuffer(pixel), (std::vector<uint8_t>{0x44, 0x33, 0x22}));

    pvm::Framebuffer bgra{base, 10, 7, 48, pvm::PixelFormat::Bgra32};
    std::vector<uint8_t> want;
    for (uint32_t y = 0; y < 7; y++)
        for (uint32_t x = 0; x < 10; x++)
            for (uint32_t c : {2u, 1u, 0u}) want.push_back(filled(y * 48 + 4 * x + c));
    EXPECT_EQ(instance.read_framebuffer(bgra), want);

    pvm::Framebuffer palette{base, 13, 5, 17, pvm::PixelFormat::Palette8};
    std::vector<uint8_t> rgb(palette.rgb24_size() + 1, 0xab);
    instance.read_framebuffer(palette, rgb.data(), rgb.size());
    for (uint32_t p = 0; p < 13 * 5; p++) {
        uint8_t index = filled(769 + (p / 13) * 17 + p % 13);
        for (uint32_t c = 0; c < 3; c++) ASSERT_EQ(rgb[3 * p + c], filled(1 + 3 * index + c)) << "pixel " << p;
    }
    EXPECT_EQ(rgb.back(), 0xab);
}

TEST_P(Framebuffer, BadSizesThrowTheLibraryMessage) {
    try {
        instance.read_framebuffer(pvm::Framebuffer{base, 10, 7, 39, pvm::PixelFormat::Bgra32});
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_NE(std::string(error.what()).find("stride 39 is below one row of 10 pixels (40 bytes)"), std::string::npos)
            << error.what();
    }
    uint8_t small[299];
    EXPECT_THROW(instance.read_framebuffer(pvm::Framebuffer{base, 10, 10, 40, pvm::PixelFormat::Rgba32}, small, sizeof small),
                 pvm::Error);
    EXPECT_THROW(instance.read_framebuffer(pvm::Framebuffer{0, 10, 10, 40, pvm::PixelFormat::Rgba32}), pvm::Error);
}

}  // namespace
