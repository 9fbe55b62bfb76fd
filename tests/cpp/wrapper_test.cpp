// Tests of include/polkavm_ffi.hpp on tests/programs/test_program.pvmasm, on both backends.
#include "polkavm_ffi.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

static_assert(static_cast<uint32_t>(pvm::Status::Host) == PVM_STATUS_HOST);
static_assert(static_cast<uint32_t>(pvm::Status::OutOfGas) == PVM_STATUS_OOG);
static_assert(static_cast<uint32_t>(pvm::Reg::A5) == PVM_REG_A5 && pvm::reg_count == 13);

const std::vector<uint8_t> &program() {
    static const std::vector<uint8_t> blob = [] {
        std::ifstream file(PVM_TEST_PROGRAM, std::ios::binary);
        if (!file) throw std::runtime_error(PVM_TEST_PROGRAM " is missing: run `make programs`");
        return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {});
    }();
    return blob;
}

auto no_host_calls = [](pvm::Instance &, uint32_t number) { ADD_FAILURE() << "unexpected host call " << number; };

class Wrapper : public testing::TestWithParam<pvm::Backend> {
protected:
    pvm::Engine engine{pvm::EngineConfig().backend(GetParam())};
    pvm::Module module{engine, program()};
    pvm::Instance instance{engine, module};
};

INSTANTIATE_TEST_SUITE_P(Backends, Wrapper, testing::Values(pvm::Backend::Interpreter, pvm::Backend::Compiler),
                         [](const testing::TestParamInfo<pvm::Backend> &info) {
                             return info.param == pvm::Backend::Interpreter ? "Interpreter" : "Compiler";
                         });

TEST_P(Wrapper, EngineReportsItsBackend) { EXPECT_EQ(engine.backend(), GetParam()); }

TEST_P(Wrapper, ModuleListsItsExports) {
    std::vector<std::string> names;
    for (const pvm::Export &entry : module.exports()) names.push_back(entry.name);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"add", "host", "host_loop", "load", "spin", "store", "sum", "trap"}));
    ASSERT_TRUE(module.find_export("sum").has_value());
    EXPECT_EQ(module.exports()[*module.find_export("sum")].pc, module.export_pc("sum"));
    EXPECT_FALSE(module.find_export("nope").has_value());
    EXPECT_TRUE(module.imports().empty());
    EXPECT_GE(module.memory_info().rw_data_size, 4u);
    try {
        module.export_pc("nope");
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_NE(std::string(error.what()).find("nope"), std::string::npos) << error.what();
    }
}

TEST_P(Wrapper, CallsStopWithEveryStatus) {
    pvm::RunResult result = instance.call("add", {40, 2}, 10000, no_host_calls);
    EXPECT_EQ(result.status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 42u);
    EXPECT_GT(result.gas_remaining, 0);
    EXPECT_LT(result.gas_remaining, 10000);
    EXPECT_EQ(instance.call("trap", {}, 10000).status, pvm::Status::Panic);
    EXPECT_EQ(instance.call("spin", {}, 1000).status, pvm::Status::OutOfGas);
    EXPECT_EQ(instance.call(module.export_pc("sum"), {10}, 10000, no_host_calls).status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 55u);
    EXPECT_FALSE(instance.next_pc().has_value());
    try {
        instance.run();
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_EQ(error.kind(), pvm::ErrorKind::WrongState) << error.what();
    }
}

TEST_P(Wrapper, FailuresReportedOnlyThroughTheLastErrorThrow) {
    pvm::Engine paging_engine(pvm::EngineConfig().backend(pvm::Backend::Interpreter).allow_dynamic_paging(true));
    pvm::Module paging(paging_engine, program(), pvm::ModuleConfig().dynamic_paging(true));
    pvm::Instance vm(paging_engine, paging);
    try {
        vm.heap_size();
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_EQ(error.kind(), pvm::ErrorKind::Unsupported) << error.what();
    }
    EXPECT_NO_THROW(vm.reset());
    EXPECT_THROW(instance.set_reg(static_cast<pvm::Reg>(13), 1), pvm::Error);
    EXPECT_NO_THROW(instance.heap_size());
}

TEST_P(Wrapper, HostCallsReachTheHandler) {
    std::vector<uint32_t> seen;
    pvm::RunResult result = instance.call("host", {40, 0}, 10000, [&](pvm::Instance &vm, uint32_t number) {
        seen.push_back(number);
        if (number == 8) vm.set_reg(pvm::Reg::A1, 2);
    });
    EXPECT_EQ(seen, (std::vector<uint32_t>{7, 8}));
    EXPECT_EQ(result.status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 42u);

    int calls = 0;
    std::function<void(pvm::Instance &, uint32_t)> counter = [&](pvm::Instance &, uint32_t) { calls++; };
    EXPECT_EQ(instance.call("host_loop", std::vector<uint64_t>{100}, 100000, counter).status, pvm::Status::Halt);
    EXPECT_EQ(calls, 100);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 100u);
}

TEST_P(Wrapper, RunningByHandResumesAfterEachHostCall) {
    instance.prepare_call("host", {1, 2});
    instance.set_gas(10000);
    pvm::RunResult first = instance.run();
    EXPECT_EQ(first.status, pvm::Status::Host);
    EXPECT_EQ(first.host_call, 7u);
    EXPECT_EQ(instance.gas(), first.gas_remaining);
    ASSERT_TRUE(instance.pc().has_value());
    ASSERT_TRUE(instance.next_pc().has_value());
    instance.set_next_pc(*instance.next_pc());
    EXPECT_EQ(instance.run().host_call, 8u);
    EXPECT_EQ(instance.run().status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 3u);
}

TEST_P(Wrapper, HandlerExceptionsAbortTheCallAndLeaveTheInstanceUsable) {
    try {
        instance.call("host", {1, 2}, 10000, [](pvm::Instance &, uint32_t) { throw std::domain_error("no"); });
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_EQ(error.kind(), pvm::ErrorKind::HostAborted);
        EXPECT_STREQ(error.what(), "host call 7 aborted: no");
        EXPECT_THROW(std::rethrow_if_nested(error), std::domain_error);
    }
    EXPECT_EQ(instance.call("add", {2, 2}, 10000).status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 4u);
    // The library's own errors raised in a handler pass through unchanged.
    try {
        instance.call("host", {1, 2}, 10000, [](pvm::Instance &vm, uint32_t) { vm.read_memory(0, 4); });
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_EQ(error.kind(), pvm::ErrorKind::Memory) << error.what();
    }
    EXPECT_EQ(instance.call("add", {2, 2}, 10000).status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 4u);
}

TEST_P(Wrapper, ReentrantUseFromAHandlerThrows) {
    EXPECT_THROW(instance.call("host", {1, 2}, 10000,
                               [](pvm::Instance &vm, uint32_t) { vm.call("add", {1, 1}, 10000); }),
                 pvm::ReentrantCallError);
    EXPECT_THROW(instance.call("host", {1, 2}, 10000, [](pvm::Instance &vm, uint32_t) { vm.run(); }),
                 pvm::ReentrantCallError);
    EXPECT_THROW(instance.call("host", {1, 2}, 10000, [](pvm::Instance &vm, uint32_t) { vm.prepare_call("add"); }),
                 pvm::ReentrantCallError);
    EXPECT_EQ(instance.call("add", {3, 4}, 10000).status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 7u);
}

TEST_P(Wrapper, RegistersRoundTrip) {
    instance.set_reg(pvm::Reg::T0, ~uint64_t{0});
    EXPECT_EQ(instance.reg(pvm::Reg::T0), ~uint64_t{0});
    pvm::Registers values{};
    for (std::size_t i = 0; i < values.size(); i++) values[i] = i * 3 + 1;
    instance.set_regs(values);
    EXPECT_EQ(instance.regs(), values);
    EXPECT_EQ(instance.reg(pvm::Reg::A5), 37u);
}

TEST_P(Wrapper, MemoryReadsWritesAndErrors) {
    PvmMemoryInfo info = module.memory_info();
    EXPECT_EQ(instance.read_memory(info.rw_data_address, 4), (std::vector<uint8_t>{42, 0, 0, 0}));
    EXPECT_EQ(instance.read_memory(info.ro_data_address, 4), (std::vector<uint8_t>{1, 2, 3, 4}));
    instance.write_memory(info.rw_data_address, std::vector<uint8_t>{7, 0, 0, 0});
    EXPECT_EQ(instance.call("load", {info.rw_data_address}, 10000).status, pvm::Status::Halt);
    EXPECT_EQ(instance.reg(pvm::Reg::A0), 7u);
    uint8_t byte = 0;
    instance.call("store", {info.rw_data_address + 4u, 99}, 10000);
    instance.read_memory(info.rw_data_address + 4, &byte, 1);
    EXPECT_EQ(byte, 99);
    try {
        instance.read_memory(0, 4);
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_NE(std::string(error.what()).find("0x00000000"), std::string::npos) << error.what();
    }
    EXPECT_THROW(instance.write_memory(info.ro_data_address, std::vector<uint8_t>{1}), pvm::Error);
    instance.reset();
    EXPECT_EQ(instance.read_memory(info.rw_data_address, 1), std::vector<uint8_t>{42});
    EXPECT_EQ(instance.regs(), pvm::Registers{});
    EXPECT_FALSE(instance.fault_address().has_value());
}

TEST_P(Wrapper, SbrkGrowsTheHeap) {
    uint32_t before = instance.heap_size();
    uint32_t top = instance.sbrk(100);
    EXPECT_EQ(instance.heap_size(), before + 100);
    EXPECT_EQ(top, module.memory_info().heap_base + before + 100);
    EXPECT_THROW(instance.sbrk(UINT32_MAX), pvm::Error);
}

TEST_P(Wrapper, BadArgumentsThrowTheLibraryMessage) {
    std::vector<uint64_t> ten(10, 0);
    try {
        instance.call("add", ten, 10000, no_host_calls);
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_NE(std::string(error.what()).find("too many arguments"), std::string::npos) << error.what();
    }
    try {
        pvm::Module bad(engine, std::vector<uint8_t>{1, 2, 3});
        FAIL() << "no exception";
    } catch (const pvm::Error &error) {
        EXPECT_GT(std::string(error.what()).size(), std::string("loading a module: ").size()) << error.what();
    }
    EXPECT_THROW(instance.export_pc("missing"), pvm::Error);
}

TEST_P(Wrapper, StepTracingStopsAfterEachInstruction) {
    pvm::Module stepping(engine, program(), pvm::ModuleConfig().step_tracing(true));
    pvm::Instance vm(engine, stepping);
    vm.prepare_call("add", {1, 2});
    vm.set_gas(10000);
    int steps = 0;
    while (vm.run().status == pvm::Status::Step) steps++;
    EXPECT_GE(steps, 2);
    EXPECT_EQ(vm.reg(pvm::Reg::A0), 3u);
}

TEST_P(Wrapper, MovedFromHandlesThrowAndMovedToHandlesWork) {
    pvm::Instance moved = std::move(instance);
    EXPECT_THROW(instance.reg(pvm::Reg::A0), pvm::Error);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(moved.call("add", {5, 6}, 10000).status, pvm::Status::Halt);
    EXPECT_EQ(moved.reg(pvm::Reg::A0), 11u);
    pvm::Instance other(engine, module);
    other = std::move(moved);
    EXPECT_EQ(other.reg(pvm::Reg::A0), 11u);
    pvm::Engine engine2 = std::move(engine);
    EXPECT_THROW(pvm::Module(engine, program()), pvm::Error);  // NOLINT(bugprone-use-after-move)
    EXPECT_NO_THROW(pvm::Module(engine2, program()));
}

TEST_P(Wrapper, InstancesOutliveTheirEngineAndModule) {
    std::optional<pvm::Instance> survivor;
    {
        pvm::Engine local_engine(pvm::EngineConfig().backend(GetParam()));
        pvm::Module local_module(local_engine, program());
        survivor.emplace(local_engine, local_module);
    }
    EXPECT_EQ(survivor->call("add", {20, 22}, 10000).status, pvm::Status::Halt);
    EXPECT_EQ(survivor->reg(pvm::Reg::A0), 42u);
}

// A test vector's "program" bytes, from a suite in tests/vectors.
std::optional<std::vector<uint8_t>> conformance_program(const std::string &suite, const std::string &name) {
    std::ifstream file(std::string(PVM_VECTORS_DIR) + "/" + suite + "/programs/" + name + ".json");
    if (!file) return std::nullopt;
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::size_t start = text.find('[', text.find("\"program\""));
    if (start == std::string::npos) return std::nullopt;
    std::vector<uint8_t> bytes;
    for (std::size_t at = start + 1; text[at] != ']'; at++) {
        if (std::isdigit(static_cast<unsigned char>(text[at]))) {
            std::size_t used = 0;
            bytes.push_back(static_cast<uint8_t>(std::stoul(text.substr(at), &used)));
            at += used - 1;
        }
    }
    return bytes;
}

// inst_store_u8: `u8 [0x20000] = a0`, then past the end of the code.
TEST(Jam, DynamicPagingFaultsUntilThePageIsMapped) {
    std::optional<std::vector<uint8_t>> code = conformance_program("jam-pvm-v0.4", "inst_store_u8");
    ASSERT_TRUE(code) << "no inst_store_u8 in " << PVM_VECTORS_DIR;
    pvm::Engine engine(pvm::EngineConfig().backend(pvm::Backend::Interpreter).allow_dynamic_paging(true));
    pvm::Module module = pvm::Module::jam(engine, *code);
    pvm::Instance instance(engine, module);
    instance.set_reg(pvm::Reg::A0, 0x12345678);
    instance.set_next_pc(0);
    instance.set_gas(10000);
    EXPECT_EQ(instance.run().status, pvm::Status::Fault);
    EXPECT_EQ(instance.fault_address(), std::optional<uint32_t>(0x20000));
    EXPECT_EQ(instance.graypaper_pc(), std::optional<uint32_t>(0));
    instance.map_pages(0x20000, 4096, true);
    instance.set_next_pc(0);
    EXPECT_EQ(instance.run().status, pvm::Status::Panic);
    EXPECT_EQ(instance.read_memory(0x20000, 1), std::vector<uint8_t>{0x78});
    instance.protect_pages(0x20000, 4096, true);
    EXPECT_THROW(instance.write_memory(0x20000, std::vector<uint8_t>{1}), pvm::Error);
    instance.free_pages(0x20000, 4096);
    EXPECT_THROW(instance.read_memory(0x20000, 1), pvm::Error);
    EXPECT_THROW(instance.map_pages(0x20001, 4096, true), pvm::Error);

    pvm::Engine static_engine(pvm::EngineConfig().backend(pvm::Backend::Interpreter));
    EXPECT_THROW(pvm::Module::jam(static_engine, *code), pvm::Error);
}

// inst_load_u8_nok of the Graypaper 0.8.0 vectors: a load from the unmapped page 0x20000, one basic block.
TEST(Jam, TheDefaultCostModelIsGraypaper080sAndEveryModelIsSelectable) {
    std::optional<std::vector<uint8_t>> code = conformance_program("gp-0.8.0-polkavm-spectool", "inst_load_u8_nok");
    ASSERT_TRUE(code) << "no inst_load_u8_nok in " << PVM_VECTORS_DIR;
    struct Case {
        pvm::CostModel engine_default, module;
        int64_t block_cost;
    };
    for (const Case &c : {Case{pvm::CostModel::Default, pvm::CostModel::FullL2Hit, 25}, Case{pvm::CostModel::Default, pvm::CostModel::Naive, 2},
                          Case{pvm::CostModel::Default, pvm::CostModel::FullL1Hit, 4}, Case{pvm::CostModel::Default, pvm::CostModel::FullL3Hit, 37},
                          Case{pvm::CostModel::Default, pvm::CostModel::Default, 2}, Case{pvm::CostModel::FullL2Hit, pvm::CostModel::Default, 25}}) {
        pvm::Engine engine(
            pvm::EngineConfig().backend(pvm::Backend::Interpreter).allow_dynamic_paging(true).default_cost_model(c.engine_default));
        pvm::Module module = pvm::Module::jam(engine, *code, pvm::JamConfig().cost_model(c.module));
        EXPECT_EQ(module.block_gas_cost(0), std::optional<int64_t>(c.block_cost));
        EXPECT_EQ(module.block_gas_cost(1), std::nullopt);
        pvm::Instance instance(engine, module);
        instance.set_next_pc(0);
        instance.set_gas(10000);
        pvm::RunResult result = instance.run();
        EXPECT_EQ(result.status, pvm::Status::Fault);
        EXPECT_EQ(instance.fault_address(), std::optional<uint32_t>(0x20000));
        EXPECT_EQ(result.gas_remaining, 10000 - c.block_cost);
    }
    pvm::Engine engine(pvm::EngineConfig().backend(pvm::Backend::Interpreter).allow_dynamic_paging(true));
    EXPECT_EQ(pvm::Module::jam(engine, *code).block_gas_cost(0), std::optional<int64_t>(25)) << "the JAM default is 0.8.0's full-L2";
    EXPECT_THROW(pvm::Module::jam(engine, *code, pvm::JamConfig().cost_model(static_cast<pvm::CostModel>(9))), pvm::Error);
}

// The JIT's worker process killed during a host call: the resumed run throws within about a
// second, naming the signal, and the instance refuses to run again; the engine goes on.
TEST(DeadWorker, KilledDuringAHostCallTheCallThrows) {
    pvm::Engine engine(pvm::EngineConfig().backend(pvm::Backend::Compiler).worker_count(0));
    pvm::Module module(engine, program());
    auto children = [] {
        std::vector<long> pids;
        for (const auto &entry : std::filesystem::directory_iterator("/proc")) {
            std::string name = entry.path().filename().string();
            if (!std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); })) continue;
            std::ifstream stat(entry.path() / "stat");
            std::string text((std::istreambuf_iterator<char>(stat)), {});
            std::size_t end = text.rfind(')');
            if (end == std::string::npos) continue;
            char state;
            long parent;
            if (std::sscanf(text.c_str() + end + 1, " %c %ld", &state, &parent) == 2 && parent == getpid())
                pids.push_back(std::stol(entry.path().filename().string()));
        }
        return pids;
    };
    std::vector<long> before = children();
    pvm::Instance instance(engine, module);
    std::vector<long> after = children();
    long worker = 0;
    for (long pid : after)
        if (std::find(before.begin(), before.end(), pid) == before.end()) worker = pid;
    ASSERT_NE(worker, 0);
    std::chrono::steady_clock::time_point killed_at;
    try {
        instance.call("host", {1, 2}, 10000, [&](pvm::Instance &, uint32_t) {
            kill(static_cast<pid_t>(worker), SIGKILL);
            while (std::filesystem::exists("/proc/" + std::to_string(worker) + "/stat")) {
                std::ifstream stat("/proc/" + std::to_string(worker) + "/stat");
                std::string text((std::istreambuf_iterator<char>(stat)), {});
                if (text.rfind(") Z") != std::string::npos) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            killed_at = std::chrono::steady_clock::now();
        });
        ADD_FAILURE() << "the call did not throw";
    } catch (const pvm::Error &error) {
        EXPECT_NE(std::string(error.what()).find("worker process unexpectedly quit"), std::string::npos) << error.what();
        EXPECT_NE(std::string(error.what()).find("SIGKILL"), std::string::npos) << error.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - killed_at, std::chrono::milliseconds(1500));
    EXPECT_THROW(instance.call("add", {1, 2}, 10000), pvm::Error);
    pvm::Instance fresh(engine, module);
    EXPECT_EQ(fresh.call("add", {2, 3}, 10000).status, pvm::Status::Halt);
    EXPECT_EQ(fresh.reg(pvm::Reg::A0), 5u);
}

}  // namespace
