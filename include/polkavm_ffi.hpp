/*
 * polkavm-ffi for C++17: header-only RAII wrappers over the pvm_* C ABI (polkavm_ffi.h).
 *
 * Handles are move-only and free themselves; they may be destroyed in any order (an instance
 * keeps what it needs alive). Failures throw pvm::Error carrying the library's error kind
 * (pvm_last_error_kind(): the kinds UniFFI's PvmError has) and its message (pvm_last_error()).
 *
 *     pvm::Engine engine{pvm::EngineConfig{}.backend(pvm::Backend::Interpreter)};
 *     pvm::Module module{engine, blob};
 *     pvm::Instance instance{engine, module};
 *     pvm::RunResult result = instance.call("host", {1, 2}, 10000, [](pvm::Instance &vm, uint32_t number) {
 *         vm.set_reg(pvm::Reg::A0, number);
 *     });
 */
#ifndef POLKAVM_FFI_HPP
#define POLKAVM_FFI_HPP

#include "polkavm_ffi.h"

#include <array>
#include <exception>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pvm {

/** What kind of failure an Error is: the library's PVM_ERROR_* kinds (docs/design.md, "Error contract"). */
enum class ErrorKind : uint32_t {
    InvalidArgument = PVM_ERROR_INVALID_ARGUMENT,
    InvalidProgram = PVM_ERROR_INVALID_PROGRAM,
    Unsupported = PVM_ERROR_UNSUPPORTED,
    Setup = PVM_ERROR_SETUP,
    Memory = PVM_ERROR_MEMORY,
    WrongState = PVM_ERROR_WRONG_STATE,
    Panic = PVM_ERROR_PANIC,
    HostAborted = PVM_ERROR_HOST_ABORTED,
};

/** A failure reported by the library (or by this wrapper): its kind, and what() is its message. */
class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }

private:
    ErrorKind kind_;
};

/** Thrown when a host-call handler runs, prepares or calls the instance whose call it serves. */
class ReentrantCallError : public Error {
public:
    ReentrantCallError()
        : Error(ErrorKind::WrongState, "pvm::Instance: a host-call handler may not run, prepare or call the instance it serves") {}
};

namespace detail {
/* Call right after a pvm_* call reported failure, before anything else calls into the library. */
[[noreturn]] inline void throw_last_error() {
    uint32_t kind = pvm_last_error_kind();
    if (kind == PVM_ERROR_NONE) throw Error(ErrorKind::Panic, "polkavm-ffi reported a failure without an error");
    throw Error(static_cast<ErrorKind>(kind), pvm_last_error());
}

/* For C functions that report failure only through the last error (void, or 0 as a real value). */
template <class Call>
auto checked(Call &&call) {
    pvm_clear_last_error();
    auto result = call();
    if (pvm_last_error_kind() != PVM_ERROR_NONE) throw_last_error();
    return result;
}

inline uint32_t length_u32(std::size_t length, const char *what) {
    if (length > std::numeric_limits<uint32_t>::max())
        throw Error(ErrorKind::InvalidArgument, std::string(what) + " is larger than 4 GiB");
    return static_cast<uint32_t>(length);
}
}  // namespace detail

enum class Status : uint32_t {
    Halt = PVM_STATUS_HALT,
    Panic = PVM_STATUS_PANIC,
    OutOfGas = PVM_STATUS_OOG,
    Fault = PVM_STATUS_FAULT,
    Host = PVM_STATUS_HOST,
    Step = PVM_STATUS_STEP,
};

enum class Reg : uint32_t {
    RA = PVM_REG_RA, SP = PVM_REG_SP, T0 = PVM_REG_T0, T1 = PVM_REG_T1, T2 = PVM_REG_T2,
    S0 = PVM_REG_S0, S1 = PVM_REG_S1, A0 = PVM_REG_A0, A1 = PVM_REG_A1, A2 = PVM_REG_A2,
    A3 = PVM_REG_A3, A4 = PVM_REG_A4, A5 = PVM_REG_A5,
};

constexpr std::size_t reg_count = PVM_REG_COUNT;
using Registers = std::array<uint64_t, reg_count>;

enum class Backend : uint32_t {
    Auto = PVM_BACKEND_AUTO,
    Compiler = PVM_BACKEND_COMPILER,
    Interpreter = PVM_BACKEND_INTERPRETER,
};

enum class Sandbox : uint32_t {
    Auto = PVM_SANDBOX_AUTO,
    Linux = PVM_SANDBOX_LINUX,
    Generic = PVM_SANDBOX_GENERIC,
};

enum class CorePinning : uint32_t {
    Core = PVM_CORE_PINNING_CORE,
    Ccx = PVM_CORE_PINNING_CCX,
    Disabled = PVM_CORE_PINNING_DISABLED,
};

#if defined(PVM_FEATURE_DOOM)
/** How a guest lays out its pixels (`PVM_PIXEL_FORMAT_*`). */
enum class PixelFormat : uint32_t {
    Palette8 = PVM_PIXEL_FORMAT_PALETTE8,  ///< 1 header byte, 768-byte RGB palette, then one index per pixel
    Bgra32 = PVM_PIXEL_FORMAT_BGRA32,      ///< bytes B, G, R, A (polkavm's Doom guest; SDL's ARGB8888)
    Rgba32 = PVM_PIXEL_FORMAT_RGBA32,      ///< bytes R, G, B, A
};

/** A guest image: `height` rows of `width` pixels, rows `stride` bytes apart. */
struct Framebuffer {
    uint32_t address = 0;
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t stride = 0;
    PixelFormat format = PixelFormat::Bgra32;
    /** Bytes of its packed RGB24 form: width * height * 3. */
    std::size_t rgb24_size() const { return static_cast<std::size_t>(width) * height * 3; }
};
#endif

enum class GasMetering : uint32_t {
    None = PVM_GAS_METERING_NONE,
    Sync = PVM_GAS_METERING_SYNC,
    Async = PVM_GAS_METERING_ASYNC,
};

/** The gas cost model: Naive for Graypaper 0.6.7-0.7.2, FullL2Hit for 0.8.0 (the JAM default). */
enum class CostModel : uint32_t {
    Default = PVM_COST_MODEL_DEFAULT,
    Naive = PVM_COST_MODEL_NAIVE,
    FullL1Hit = PVM_COST_MODEL_FULL_L1_HIT,
    FullL2Hit = PVM_COST_MODEL_FULL_L2_HIT,
    FullL3Hit = PVM_COST_MODEL_FULL_L3_HIT,
};

enum class InstructionSet : uint32_t {
    JamV1 = PVM_ISA_JAM_V1,
    ReviveV1 = PVM_ISA_REVIVE_V1,
    Latest32 = PVM_ISA_LATEST32,
    Latest64 = PVM_ISA_LATEST64,
};

/** The outcome of a run: why it stopped, the gas left, and the `ecalli` number for Status::Host. */
struct RunResult {
    Status status;
    int64_t gas_remaining;
    uint32_t host_call;
};

struct Export {
    std::string name;
    uint32_t pc;
};

/** Engine settings, starting from the library's defaults (pvm_engine_config_default). */
class EngineConfig {
public:
    EngineConfig() : raw_(pvm_engine_config_default()) {}
    EngineConfig &backend(Backend value) { raw_.backend = static_cast<uint32_t>(value); return *this; }
    EngineConfig &sandbox(Sandbox value) { raw_.sandbox = static_cast<uint32_t>(value); return *this; }
    EngineConfig &worker_count(uint32_t value) { raw_.worker_count = value; return *this; }
    EngineConfig &allow_dynamic_paging(bool value) { raw_.allow_dynamic_paging = value; return *this; }
    EngineConfig &core_pinning(CorePinning value) { raw_.core_pinning = static_cast<uint32_t>(value); return *this; }
    EngineConfig &default_cost_model(CostModel value) { raw_.default_cost_model = static_cast<uint32_t>(value); return *this; }
    const PvmEngineConfig &raw() const { return raw_; }

private:
    PvmEngineConfig raw_;
};

/** Module settings, starting from the library's defaults (pvm_module_config_default). */
class ModuleConfig {
public:
    ModuleConfig() : raw_(pvm_module_config_default()) {}
    ModuleConfig &gas_metering(GasMetering value) { raw_.gas_metering = static_cast<uint32_t>(value); return *this; }
    ModuleConfig &step_tracing(bool value) { raw_.step_tracing = value; return *this; }
    ModuleConfig &dynamic_paging(bool value) { raw_.dynamic_paging = value; return *this; }
    ModuleConfig &page_size(uint32_t value) { raw_.page_size = value; return *this; }
    ModuleConfig &aux_data_size(uint32_t value) { raw_.aux_data_size = value; return *this; }
    ModuleConfig &strict(bool value) { raw_.strict = value; return *this; }
    ModuleConfig &cost_model(CostModel value) { raw_.cost_model = static_cast<uint32_t>(value); return *this; }
    const PvmModuleConfig &raw() const { return raw_; }

private:
    PvmModuleConfig raw_;
};

/** Settings for a Graypaper (JAM) program blob, starting from pvm_jam_config_default. */
class JamConfig {
public:
    JamConfig() : raw_(pvm_jam_config_default()) {}
    JamConfig &isa(InstructionSet value) { raw_.isa = static_cast<uint32_t>(value); return *this; }
    JamConfig &gas_metering(GasMetering value) { raw_.gas_metering = static_cast<uint32_t>(value); return *this; }
    JamConfig &page_size(uint32_t value) { raw_.page_size = value; return *this; }
    JamConfig &ro_data_size(uint32_t value) { raw_.ro_data_size = value; return *this; }
    JamConfig &rw_data_size(uint32_t value) { raw_.rw_data_size = value; return *this; }
    JamConfig &stack_size(uint32_t value) { raw_.stack_size = value; return *this; }
    JamConfig &aux_data_size(uint32_t value) { raw_.aux_data_size = value; return *this; }
    JamConfig &halt_pc(bool value) { raw_.halt_pc = value; return *this; }
    JamConfig &step_tracing(bool value) { raw_.step_tracing = value; return *this; }
    JamConfig &cost_model(CostModel value) { raw_.cost_model = static_cast<uint32_t>(value); return *this; }
    const PvmJamConfig &raw() const { return raw_; }

private:
    PvmJamConfig raw_;
};

namespace detail {
/* A move-only owner of a C handle; `Free` releases it. */
template <class Handle, void (*Free)(Handle)>
class Owned {
public:
    explicit Owned(Handle handle) : handle_(handle) {}
    Owned(const Owned &) = delete;
    Owned &operator=(const Owned &) = delete;
    Owned(Owned &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Owned &operator=(Owned &&other) noexcept {
        if (this != &other) Free(std::exchange(handle_, std::exchange(other.handle_, nullptr)));
        return *this;
    }
    ~Owned() { Free(handle_); }

    /** The C handle, for pvm_* functions this wrapper lacks; throws on a moved-from object. */
    Handle get(const char *what) const {
        if (handle_ == nullptr) throw Error(ErrorKind::WrongState, std::string("use of a moved-from pvm::") + what);
        return handle_;
    }

private:
    Handle handle_;
};
}  // namespace detail

/** Backend, sandbox and worker pool. May be shared between threads. */
class Engine {
public:
    explicit Engine(const EngineConfig &config = EngineConfig()) : owned_(create(config)) {}

    Backend backend() const { return static_cast<Backend>(pvm_engine_backend(get())); }
    PvmEngine get() const { return owned_.get("Engine"); }

private:
    static PvmEngine create(const EngineConfig &config) {
        PvmEngine engine = pvm_engine_new_with_config(&config.raw());
        if (engine == nullptr) detail::throw_last_error();
        return engine;
    }

    detail::Owned<PvmEngine, pvm_engine_free> owned_;
};

/** A loaded program blob. May be shared between threads. */
class Module {
public:
    Module(const Engine &engine, const uint8_t *blob, std::size_t size, const ModuleConfig &config = ModuleConfig())
        : owned_(create(engine, blob, size, config)) {}
    Module(const Engine &engine, const std::vector<uint8_t> &blob, const ModuleConfig &config = ModuleConfig())
        : Module(engine, blob.data(), blob.size(), config) {}

    /**
     * A Graypaper program blob (jump table, code and bitmask) with dynamic paging: nothing is
     * mapped until Instance::map_pages. The engine must allow dynamic paging.
     */
    static Module jam(const Engine &engine, const uint8_t *code, std::size_t size, const JamConfig &config = JamConfig()) {
        PvmModule module = pvm_module_new_jam(engine.get(), code, size, &config.raw());
        if (module == nullptr) detail::throw_last_error();
        return Module(module);
    }
    static Module jam(const Engine &engine, const std::vector<uint8_t> &code, const JamConfig &config = JamConfig()) {
        return jam(engine, code.data(), code.size(), config);
    }

    PvmMemoryInfo memory_info() const { return pvm_module_memory_info(get()); }

    std::vector<Export> exports() const {
        std::vector<Export> exports;
        uint32_t count = pvm_module_exports_count(get());
        for (uint32_t index = 0; index < count; index++)
            exports.push_back({name_at(pvm_module_export_name, index), pvm_module_export_pc(get(), index)});
        return exports;
    }

    std::vector<std::string> imports() const {
        std::vector<std::string> imports;
        uint32_t count = pvm_module_imports_count(get());
        for (uint32_t index = 0; index < count; index++) imports.push_back(name_at(pvm_module_import_name, index));
        return imports;
    }

    /** The index of the export called `name`, if there is one. */
    std::optional<uint32_t> find_export(std::string_view name) const {
        int32_t index = pvm_module_find_export(get(), reinterpret_cast<const uint8_t *>(name.data()), name.size());
        if (index < 0) return std::nullopt;
        return static_cast<uint32_t>(index);
    }

    /** The program counter of the export called `name`; throws if there is none. */
    uint32_t export_pc(std::string_view name) const {
        int32_t index = pvm_module_find_export(get(), reinterpret_cast<const uint8_t *>(name.data()), name.size());
        if (index < 0) detail::throw_last_error();
        return pvm_module_export_pc(get(), static_cast<uint32_t>(index));
    }

    /** The gas the basic block starting at `pc` costs under the module's cost model; none if no block starts there. */
    std::optional<int64_t> block_gas_cost(uint32_t pc) const {
        int64_t cost = pvm_module_block_gas_cost(get(), pc);
        if (cost < 0) return std::nullopt;
        return cost;
    }

    PvmModule get() const { return owned_.get("Module"); }

private:
    explicit Module(PvmModule module) : owned_(module) {}

    static PvmModule create(const Engine &engine, const uint8_t *blob, std::size_t size, const ModuleConfig &config) {
        PvmModule module = pvm_module_new_with_config(engine.get(), blob, size, &config.raw());
        if (module == nullptr) detail::throw_last_error();
        return module;
    }

    std::string name_at(int32_t (*name_function)(PvmModule, uint32_t, uint8_t *, uint32_t), uint32_t index) const {
        int32_t length = name_function(get(), index, nullptr, 0);
        if (length < 0) detail::throw_last_error();
        std::string name(static_cast<std::size_t>(length), '\0');
        if (length > 0 && name_function(get(), index, reinterpret_cast<uint8_t *>(&name[0]), static_cast<uint32_t>(length)) != length)
            detail::throw_last_error();
        return name;
    }

    detail::Owned<PvmModule, pvm_module_free> owned_;
};

/**
 * A running copy of a module: registers, memory and gas. May be moved to another thread, never
 * used by two at once. Stays usable after its Engine and Module objects are destroyed.
 */
class Instance {
public:
    Instance(const Engine &engine, const Module &module) : owned_(create(engine, module)) {
        /* Export names are resolved up front so calls by name keep working without the Module. */
        for (Export &entry : module.exports()) exports_.push_back(std::move(entry));
    }

    Instance(Instance &&) noexcept = default;
    Instance &operator=(Instance &&) noexcept = default;

    /** Memory back to the module's initial image, registers to zero. */
    void reset() {
        PvmInstance instance = get();
        detail::checked([&] { pvm_instance_reset(instance); return 0; });
    }

    int64_t gas() const { return pvm_instance_get_gas(get()); }
    void set_gas(int64_t gas) { pvm_instance_set_gas(get(), gas); }

    /* Out of range (a Reg cast from a bad number) throws the library's own error. */
    uint64_t reg(Reg reg) const {
        PvmInstance instance = get();
        auto index = static_cast<uint32_t>(reg);
        if (index >= reg_count) return detail::checked([&] { return pvm_instance_get_reg(instance, index); });
        return pvm_instance_get_reg(instance, index);
    }
    void set_reg(Reg reg, uint64_t value) {
        PvmInstance instance = get();
        auto index = static_cast<uint32_t>(reg);
        if (index >= reg_count) detail::checked([&] { pvm_instance_set_reg(instance, index, value); return 0; });
        pvm_instance_set_reg(instance, index, value);
    }

    Registers regs() const {
        Registers values{};
        if (pvm_instance_get_regs(get(), values.data()) != 0) detail::throw_last_error();
        return values;
    }

    void set_regs(const Registers &values) {
        if (pvm_instance_set_regs(get(), values.data()) != 0) detail::throw_last_error();
    }

    /** The program counter where the last run stopped, if any. */
    std::optional<uint32_t> pc() const { return optional_pc(pvm_instance_get_pc(get())); }
    /** Where the next run starts, if anywhere. */
    std::optional<uint32_t> next_pc() const { return optional_pc(pvm_instance_get_next_pc(get())); }
    void set_next_pc(uint32_t pc) { pvm_instance_set_pc(get(), pc); }

    /** The program counter of the export called `name` (resolved when the instance was made). */
    uint32_t export_pc(std::string_view name) const {
        for (const Export &entry : exports_)
            if (entry.name == name) return entry.pc;
        throw Error(ErrorKind::InvalidArgument, "no export named \"" + std::string(name) + "\"");
    }

    /** Prepares a call by polkavm's default ABI: up to 9 arguments in A0..A5, then T0..T2. */
    void prepare_call(uint32_t pc, const uint64_t *args, std::size_t count) {
        if (busy_) throw ReentrantCallError();
        if (pvm_instance_prepare_call_args(get(), pc, args, detail::length_u32(count, "argument list")) != 0)
            detail::throw_last_error();
    }
    void prepare_call(uint32_t pc, std::initializer_list<uint64_t> args = {}) { prepare_call(pc, args.begin(), args.size()); }
    void prepare_call(std::string_view name, std::initializer_list<uint64_t> args = {}) {
        prepare_call(export_pc(name), args.begin(), args.size());
    }

    /** Runs from the next program counter until the program stops (Status::Host: run again to resume). */
    RunResult run() {
        if (busy_) throw ReentrantCallError();
        return run_prepared();
    }

    /**
     * Prepares a call, sets the gas and runs until the program stops for a reason other than a
     * host call. Each `ecalli N` first calls `handler(*this, N)`, which may read and write
     * registers and memory. An exception from it ends the call: a pvm::Error propagates as it
     * is; any other becomes a pvm::Error of kind HostAborted, "host call N aborted: WHAT" (as
     * UniFFI's bindings report a failed handler), with the original nested in it
     * (std::rethrow_if_nested). Calling, running or preparing this instance from the handler
     * throws ReentrantCallError.
     */
    template <class Handler>
    RunResult call(uint32_t pc, const uint64_t *args, std::size_t count, int64_t gas, Handler &&handler) {
        prepare_call(pc, args, count);
        set_gas(gas);
        BusyScope scope(busy_);
        for (;;) {
            RunResult result = run_prepared();
            if (result.status != Status::Host) return result;
            try {
                handler(*this, result.host_call);
            } catch (const Error &) {
                throw;
            } catch (const std::exception &error) {
                std::throw_with_nested(host_aborted(result.host_call, error.what()));
            } catch (...) {
                std::throw_with_nested(host_aborted(result.host_call, "unknown exception"));
            }
        }
    }
    template <class Handler>
    RunResult call(uint32_t pc, std::initializer_list<uint64_t> args, int64_t gas, Handler &&handler) {
        return call(pc, args.begin(), args.size(), gas, std::forward<Handler>(handler));
    }
    template <class Handler>
    RunResult call(std::string_view name, std::initializer_list<uint64_t> args, int64_t gas, Handler &&handler) {
        return call(export_pc(name), args.begin(), args.size(), gas, std::forward<Handler>(handler));
    }
    template <class Handler>
    RunResult call(std::string_view name, const std::vector<uint64_t> &args, int64_t gas, Handler &&handler) {
        return call(export_pc(name), args.data(), args.size(), gas, std::forward<Handler>(handler));
    }
    /** A call to a program that makes no host calls (one would throw Error). */
    RunResult call(std::string_view name, std::initializer_list<uint64_t> args, int64_t gas) {
        return call(name, args, gas, [](Instance &, uint32_t number) {
            throw host_aborted(number, "unexpected host call (pass a handler)");
        });
    }

    void read_memory(uint32_t address, uint8_t *buffer, std::size_t length) {
        if (pvm_instance_read_memory(get(), address, buffer, detail::length_u32(length, "read")) != 0)
            detail::throw_last_error();
    }
    std::vector<uint8_t> read_memory(uint32_t address, uint32_t length) {
        std::vector<uint8_t> buffer(length);
        read_memory(address, buffer.data(), buffer.size());
        return buffer;
    }

    void write_memory(uint32_t address, const uint8_t *data, std::size_t length) {
        if (pvm_instance_write_memory(get(), address, data, detail::length_u32(length, "write")) != 0)
            detail::throw_last_error();
    }
    void write_memory(uint32_t address, const std::vector<uint8_t> &data) { write_memory(address, data.data(), data.size()); }

    /** Grows the heap by `size` bytes (polkavm's sbrk); returns the new heap top. */
    uint32_t sbrk(uint32_t size) {
        uint32_t top = pvm_instance_sbrk(get(), size);
        if (top == 0) detail::throw_last_error();
        return top;
    }
    /** The heap size in bytes; throws (Unsupported) for modules with dynamic paging. */
    uint32_t heap_size() const {
        PvmInstance instance = get();
        return detail::checked([&] { return pvm_instance_heap_size(instance); });
    }

    /** The page address of the last Status::Fault, if the last run faulted. */
    std::optional<uint32_t> fault_address() const {
        uint32_t address = pvm_instance_fault_address(get());
        if (address == 0) return std::nullopt;
        return address;
    }

    /** Maps zeroed pages at `address` (page-aligned) covering `size` bytes (dynamic paging only). */
    void map_pages(uint32_t address, uint32_t size, bool writable) {
        if (pvm_instance_map_pages(get(), address, size, writable) != 0) detail::throw_last_error();
    }
    /** Makes mapped pages read-only, or writable again (dynamic paging only). */
    void protect_pages(uint32_t address, uint32_t size, bool read_only) {
        if (pvm_instance_protect_pages(get(), address, size, read_only) != 0) detail::throw_last_error();
    }
    /** Unmaps pages; accessing them faults again (dynamic paging only). */
    void free_pages(uint32_t address, uint32_t size) {
        if (pvm_instance_free_pages(get(), address, size) != 0) detail::throw_last_error();
    }
    /** The program counter as the Graypaper reports it after the last run, if known. */
    std::optional<uint32_t> graypaper_pc() const { return optional_pc(pvm_instance_get_graypaper_pc(get())); }

#if defined(PVM_FEATURE_DOOM)
    /** A Doom framebuffer at `fb_addr`, as 320x200 RGB24 (PVM_DOOM_RGB24_SIZE bytes). */
    std::vector<uint8_t> read_framebuffer_rgb24(uint32_t fb_addr, uint32_t fb_size = PVM_DOOM_FRAMEBUFFER_SIZE) {
        std::vector<uint8_t> rgb(PVM_DOOM_RGB24_SIZE);
        if (pvm_instance_read_framebuffer_rgb24(get(), fb_addr, fb_size, rgb.data(), PVM_DOOM_RGB24_SIZE) != 0)
            detail::throw_last_error();
        return rgb;
    }
    /** Writes the guest image `frame` as packed RGB24 (width * height * 3 bytes) into `rgb`. */
    void read_framebuffer(const Framebuffer &frame, uint8_t *rgb, std::size_t length) {
        if (pvm_instance_read_framebuffer(get(), frame.address, frame.width, frame.height, frame.stride,
                                          static_cast<uint32_t>(frame.format), rgb,
                                          detail::length_u32(length, "framebuffer read")) != 0)
            detail::throw_last_error();
    }
    /** The guest image `frame` as packed RGB24 (R, G, B per pixel, rows without padding). */
    std::vector<uint8_t> read_framebuffer(const Framebuffer &frame) {
        std::vector<uint8_t> rgb(frame.rgb24_size());
        read_framebuffer(frame, rgb.data(), rgb.size());
        return rgb;
    }
#endif

    PvmInstance get() const { return owned_.get("Instance"); }

private:
    /* Marks the instance busy for a call's lifetime, however the call ends. */
    class BusyScope {
    public:
        explicit BusyScope(bool &busy) : busy_(busy) { busy_ = true; }
        BusyScope(const BusyScope &) = delete;
        BusyScope &operator=(const BusyScope &) = delete;
        ~BusyScope() { busy_ = false; }

    private:
        bool &busy_;
    };

    static PvmInstance create(const Engine &engine, const Module &module) {
        PvmInstance instance = pvm_instance_new(engine.get(), module.get());
        if (instance == nullptr) detail::throw_last_error();
        return instance;
    }

    static std::optional<uint32_t> optional_pc(uint32_t pc) {
        if (pc == PVM_PC_NONE) return std::nullopt;
        return pc;
    }

    RunResult run_prepared() {
        PvmResult result;
        if (pvm_instance_run_checked(get(), &result) != 0) detail::throw_last_error();
        return {static_cast<Status>(result.status), result.gas_remaining, result.host_call};
    }

    static Error host_aborted(uint32_t host_call, const std::string &reason) {
        return Error(ErrorKind::HostAborted, "host call " + std::to_string(host_call) + " aborted: " + reason);
    }

    detail::Owned<PvmInstance, pvm_instance_free> owned_;
    std::vector<Export> exports_;
    bool busy_ = false;
};

}  // namespace pvm

#endif /* POLKAVM_FFI_HPP */
