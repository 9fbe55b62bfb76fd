// Runs the sample program (examples/sample_program.pvmasm, assembled by pvm-assemble) through
// polkavm_ffi.hpp on both backends: sum_of_squares(10), answering each "report" host call with
// a bonus of 1. Usage: pvm_cpp_example SAMPLE.polkavm (`make examples-cpp` builds and runs it).
#include <polkavm_ffi.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <vector>

namespace {

constexpr uint32_t report_host_call = 1;

bool run_sample(const pvm::Engine &engine, const char *backend_name, const std::vector<uint8_t> &blob, uint64_t n) {
    pvm::Module module(engine, blob);
    pvm::Instance instance(engine, module);
    uint64_t reports = 0;
    pvm::RunResult result = instance.call("sum_of_squares", {n}, 100000, [&](pvm::Instance &vm, uint32_t number) {
        // The call ends with a pvm::Error of kind HostAborted: "host call N aborted: unknown host call".
        if (number != report_host_call) throw std::runtime_error("unknown host call");
        reports++;
        vm.set_reg(pvm::Reg::A2, 1);  // the bonus the host wants added to the total
    });
    uint64_t total = instance.reg(pvm::Reg::A0);
    std::printf("[%s] sum_of_squares(%llu) = %llu after %llu host calls, %lld gas left\n", backend_name,
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(total),
                static_cast<unsigned long long>(reports), static_cast<long long>(result.gas_remaining));
    return result.status == pvm::Status::Halt && total == n * (n + 1) * (2 * n + 1) / 6 + n && reports == n;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s SAMPLE.polkavm\n", argv[0]);
        return 2;
    }
    std::ifstream file(argv[1], std::ios::binary);
    std::vector<uint8_t> blob((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::printf("%s\n", pvm_version());
    bool ok = true;
    for (pvm::Backend backend : {pvm::Backend::Interpreter, pvm::Backend::Compiler}) {
        const char *name = backend == pvm::Backend::Interpreter ? "interpreter" : "jit";
        std::optional<pvm::Engine> engine;
        try {
            engine.emplace(pvm::EngineConfig().backend(backend));
        } catch (const pvm::Error &error) {
            std::printf("[%s] unavailable here: %s\n", name, error.what());
            continue;
        }
        try {
            ok &= run_sample(*engine, name, blob, 10);
        } catch (const pvm::Error &error) {
            std::fprintf(stderr, "[%s] %s\n", name, error.what());
            ok = false;
        }
    }
    return ok ? 0 : 1;
}
