"""
Run PolkaVM programs from Julia through the polkavm-ffi native library.

    engine = Engine(backend = :interpreter)
    program = PolkaVM.Module(engine, read("program.polkavm"))
    instance = Instance(program)
    result = call!(instance, "add", 2, 3; gas = 10_000) do instance, number
        # host call `ecalli number`: read and write registers and memory here
    end
    result.status == PolkaVM.Halt && instance[:a0] == 5

`PolkaVM.Module` is not exported (it would clash with `Base.Module`). The low-level `ccall`
wrappers, one per C function, are in `PolkaVM.LibPolkaVM`.
"""
module PolkaVM

include("LibPolkaVM.jl")
using .LibPolkaVM

export Engine, Instance, PolkaVMError, RunResult, Status, run!, call!, prepare_call!, reset!,
       read_memory, read_memory!, write_memory!, registers, set_registers!, gas, set_gas!,
       next_pc, set_next_pc!, sbrk!, heap_size, fault_address, memory_info, exports, imports,
       export_pc, block_gas_cost, map_pages!, protect_pages!, free_pages!, graypaper_pc

"""
    PolkaVMError(kind, message)

A failure, as every face of polkavm-ffi reports it: `kind` is one of `ERROR_KINDS` (the kinds of
UniFFI's `PvmError` and C's `pvm_last_error_kind()`), `message` the library's message. For
`:HostAborted`, `cause` is the exception the host-call handler threw.
"""
struct PolkaVMError <: Exception
    kind::Symbol
    message::String
    cause::Any
end

PolkaVMError(kind::Symbol, message::AbstractString) = PolkaVMError(kind, message, nothing)

"""The kinds of `PolkaVMError`, by their C number (`PVM_ERROR_*`)."""
const ERROR_KINDS = Dict(PVM_ERROR_INVALID_ARGUMENT => :InvalidArgument, PVM_ERROR_INVALID_PROGRAM => :InvalidProgram,
                         PVM_ERROR_UNSUPPORTED => :Unsupported, PVM_ERROR_SETUP => :Setup, PVM_ERROR_MEMORY => :Memory,
                         PVM_ERROR_WRONG_STATE => :WrongState, PVM_ERROR_PANIC => :Panic,
                         PVM_ERROR_HOST_ABORTED => :HostAborted)

Base.showerror(io::IO, error::PolkaVMError) = print(io, "PolkaVMError(:", error.kind, "): ", error.message)

# Call right after a pvm_* call reported failure, before anything else can call into the library.
function throw_last_error()
    message = unsafe_string(pvm_last_error())
    kind = pvm_last_error_kind()
    # A library newer than these bindings may know more kinds.
    throw(PolkaVMError(get(ERROR_KINDS, kind, Symbol("kind ", kind)), message))
end

# For a function that reports failure only through the last error: `void`, or a result that can
# also be a real value.
function checked_call(f, args...)
    pvm_clear_last_error()
    result = f(args...)
    pvm_last_error_kind() == PVM_ERROR_NONE || throw_last_error()
    result
end

"""The library's and polkavm's versions."""
version() = unsafe_string(pvm_version())

"""Why a run stopped (the C ABI's `PVM_STATUS_*`)."""
@enum Status::UInt32 begin
    Halt = PVM_STATUS_HALT
    Panic = PVM_STATUS_PANIC
    OutOfGas = PVM_STATUS_OOG
    Fault = PVM_STATUS_FAULT
    Host = PVM_STATUS_HOST
    Step = PVM_STATUS_STEP
end

"""The outcome of a run: why it stopped, the gas left, and the `ecalli` number for `Host`."""
struct RunResult
    status::Status
    gas_remaining::Int64
    host_call::UInt32
end

RunResult(result::PvmResult) = RunResult(Status(result.status), result.gas_remaining, result.host_call)

const REGISTERS = (ra = PVM_REG_RA, sp = PVM_REG_SP, t0 = PVM_REG_T0, t1 = PVM_REG_T1, t2 = PVM_REG_T2,
                   s0 = PVM_REG_S0, s1 = PVM_REG_S1, a0 = PVM_REG_A0, a1 = PVM_REG_A1, a2 = PVM_REG_A2,
                   a3 = PVM_REG_A3, a4 = PVM_REG_A4, a5 = PVM_REG_A5)
const BACKENDS = (auto = PVM_BACKEND_AUTO, compiler = PVM_BACKEND_COMPILER, interpreter = PVM_BACKEND_INTERPRETER)
const SANDBOXES = (auto = PVM_SANDBOX_AUTO, linux = PVM_SANDBOX_LINUX, generic = PVM_SANDBOX_GENERIC)
const CORE_PINNINGS = (core = PVM_CORE_PINNING_CORE, ccx = PVM_CORE_PINNING_CCX, disabled = PVM_CORE_PINNING_DISABLED)
const GAS_METERINGS = (none = PVM_GAS_METERING_NONE, sync = PVM_GAS_METERING_SYNC, async = PVM_GAS_METERING_ASYNC)
# Gas cost models: :naive for Graypaper 0.6.7-0.7.2, :full_l2_hit for 0.8.0 (the JAM default).
const COST_MODELS = (default = PVM_COST_MODEL_DEFAULT, naive = PVM_COST_MODEL_NAIVE, full_l1_hit = PVM_COST_MODEL_FULL_L1_HIT,
                     full_l2_hit = PVM_COST_MODEL_FULL_L2_HIT, full_l3_hit = PVM_COST_MODEL_FULL_L3_HIT)
const INSTRUCTION_SETS = (jam_v1 = PVM_ISA_JAM_V1, revive_v1 = PVM_ISA_REVIVE_V1, latest32 = PVM_ISA_LATEST32,
                          latest64 = PVM_ISA_LATEST64)

function choice(table::NamedTuple, name::Symbol, what::AbstractString)
    haskey(table, name) || throw(ArgumentError("unknown $what :$name (expected one of :$(join(keys(table), ", :")))"))
    table[name]
end
choice(::NamedTuple, ::Nothing, ::AbstractString) = nothing

register_index(name::Symbol) = choice(REGISTERS, name, "register")

# `defaults` (a C config struct) with every setting that is not `nothing` replaced.
function configure(defaults::T, settings::NamedTuple) where {T}
    for name in keys(settings)
        hasfield(T, name) || throw(ArgumentError("$T has no setting $name"))
    end
    T(map(name -> something(get(settings, name, nothing), getfield(defaults, name)), fieldnames(T))...)
end

to_u64(value::Integer) = value < 0 ? reinterpret(UInt64, Int64(value)) : UInt64(value)

"""
    Engine(; backend, sandbox, worker_count, allow_dynamic_paging, core_pinning, default_cost_model)

Backend (`:auto`, `:compiler`, `:interpreter`), sandbox (`:auto`, `:linux`, `:generic`) and
worker pool. `default_cost_model` (`:naive`, polkavm's default, `:full_l1_hit`, `:full_l2_hit`,
`:full_l3_hit`) is the gas cost model of modules that choose none. Settings left out keep the
library's defaults (`pvm_engine_config_default`).
"""
mutable struct Engine
    ptr::PvmEngine
    Engine(ptr::PvmEngine) = finalizer(destroy!, new(ptr))
end

function Engine(; backend = nothing, sandbox = nothing, worker_count = nothing,
                allow_dynamic_paging = nothing, core_pinning = nothing, default_cost_model = nothing)
    settings = (backend = choice(BACKENDS, backend, "backend"), sandbox = choice(SANDBOXES, sandbox, "sandbox"),
                worker_count = worker_count, allow_dynamic_paging = allow_dynamic_paging,
                core_pinning = choice(CORE_PINNINGS, core_pinning, "core pinning"),
                default_cost_model = choice(COST_MODELS, default_cost_model, "cost model"))
    config = configure(pvm_engine_config_default(), settings)
    ptr = pvm_engine_new_with_config(Ref(config))
    ptr == C_NULL && throw_last_error()
    Engine(ptr)
end

"""
    PolkaVM.Module(engine, blob; gas_metering, step_tracing, dynamic_paging, page_size, aux_data_size, strict, cost_model)
    PolkaVM.Module(engine, path; ...)

A loaded program (a `.polkavm` blob, copied). Gas metering is `:none`, `:sync` or `:async`;
`cost_model` one of `COST_MODELS` (`:default`: the engine's); settings left out keep the
library's defaults (`pvm_module_config_default`).
"""
mutable struct Module
    ptr::PvmModule
    engine::Engine
    Module(ptr::PvmModule, engine::Engine) = finalizer(destroy!, new(ptr, engine))
end

function Module(engine::Engine, blob::AbstractVector{UInt8}; gas_metering = nothing, step_tracing = nothing,
                dynamic_paging = nothing, page_size = nothing, aux_data_size = nothing, strict = nothing,
                cost_model = nothing)
    settings = (gas_metering = choice(GAS_METERINGS, gas_metering, "gas metering"), step_tracing = step_tracing,
                dynamic_paging = dynamic_paging, page_size = page_size, aux_data_size = aux_data_size,
                strict = strict, cost_model = choice(COST_MODELS, cost_model, "cost model"))
    config = configure(pvm_module_config_default(), settings)
    bytes = Vector{UInt8}(blob)
    ptr = pvm_module_new_with_config(engine, bytes, length(bytes), Ref(config))
    ptr == C_NULL && throw_last_error()
    Module(ptr, engine)
end

Module(engine::Engine, path::AbstractString; settings...) = Module(engine, read(path); settings...)

"""
    PolkaVM.jam_module(engine, code; isa, gas_metering, page_size, ro_data_size, rw_data_size,
                       stack_size, aux_data_size, halt_pc, step_tracing, cost_model)

A Graypaper program blob (jump table, code and bitmask; copied) with dynamic paging: nothing is
mapped until `map_pages!`. The engine needs `allow_dynamic_paging = true`. `isa` is `:jam_v1`
(default; Graypaper 0.8.0), `:revive_v1` (the Graypaper through 0.7.2), `:latest32` or
`:latest64`; `cost_model` is `:full_l2_hit` (default; Graypaper 0.8.0's gas), `:naive` (0.6.7-0.7.2),
`:full_l1_hit`, `:full_l3_hit` or `:default` (the engine's); settings left out keep the library's
defaults (`pvm_jam_config_default`).
"""
function jam_module(engine::Engine, code::AbstractVector{UInt8}; isa = nothing, gas_metering = nothing,
                    cost_model = nothing, settings...)
    choices = (isa = choice(INSTRUCTION_SETS, isa, "instruction set"),
               gas_metering = choice(GAS_METERINGS, gas_metering, "gas metering"),
               cost_model = choice(COST_MODELS, cost_model, "cost model"))
    config = configure(pvm_jam_config_default(), merge(choices, values(settings)))
    bytes = Vector{UInt8}(code)
    ptr = pvm_module_new_jam(engine, bytes, length(bytes), Ref(config))
    ptr == C_NULL && throw_last_error()
    Module(ptr, engine)
end

"""
    Instance(module)

A running copy of `module`: registers, memory and gas. Not for use by two tasks at once.
"""
mutable struct Instance
    ptr::PvmInstance
    program::Module
    busy::Bool
    Instance(ptr::PvmInstance, program::Module) = finalizer(destroy!, new(ptr, program, false))
end

function Instance(program::Module)
    ptr = pvm_instance_new(program.engine, program)
    ptr == C_NULL && throw_last_error()
    Instance(ptr, program)
end

const Handle = Union{Engine, Module, Instance}

# Handles go to `ccall` as themselves, so they stay rooted for the call's duration.
Base.cconvert(::Type{Ptr{Cvoid}}, handle::Handle) = handle
function Base.unsafe_convert(::Type{Ptr{Cvoid}}, handle::Handle)
    handle.ptr == C_NULL && throw(PolkaVMError(:InvalidArgument, "this $(nameof(typeof(handle))) has been closed"))
    handle.ptr
end

# The C library keeps what an instance or module needs alive, so handles may be freed in any
# order: the garbage collector does not order finalizers.
function destroy!(engine::Engine)
    ptr, engine.ptr = engine.ptr, C_NULL
    pvm_engine_free(ptr)
end

function destroy!(program::Module)
    ptr, program.ptr = program.ptr, C_NULL
    pvm_module_free(ptr)
end

function destroy!(instance::Instance)
    ptr, instance.ptr = instance.ptr, C_NULL
    pvm_instance_free(ptr)
end

"""
Frees the handle now instead of at garbage collection; later use throws `PolkaVMError`. Instances
stay usable after their module or engine is closed, but calling an export by name needs the
module open (a program counter does not).
"""
Base.close(handle::Handle) = (destroy!(handle); nothing)
Base.isopen(handle::Handle) = handle.ptr != C_NULL

"""`:compiler` or `:interpreter`."""
backend(engine::Engine) = pvm_engine_backend(engine) == PVM_BACKEND_INTERPRETER ? :interpreter : :compiler

"""Where the module's memory regions lie (a `PvmMemoryInfo`)."""
memory_info(program::Module) = pvm_module_memory_info(program)

function name_at(name_function, program::Module, index::Integer)
    count = name_function(program, index, C_NULL, 0)
    count < 0 && throw_last_error()
    buffer = Vector{UInt8}(undef, Int(count))
    name_function(program, index, buffer, count) == count || throw_last_error()
    String(buffer)
end

"""The module's exports as `name => pc` pairs, in the module's order."""
function exports(program::Module)
    count = Int(pvm_module_exports_count(program))
    [name_at(pvm_module_export_name, program, index) => pvm_module_export_pc(program, index) for index in 0:count-1]
end

"""The names of the module's imports: `ecalli N` calls import N."""
function imports(program::Module)
    count = Int(pvm_module_imports_count(program))
    [name_at(pvm_module_import_name, program, index) for index in 0:count-1]
end

"""The program counter of the export called `name`."""
function export_pc(program::Module, name::AbstractString)
    text = String(name)
    index = pvm_module_find_export(program, text, sizeof(text))
    index < 0 && throw_last_error()
    pvm_module_export_pc(program, index)
end

export_pc(program::Module, name::Symbol) = export_pc(program, String(name))

"""
The gas the basic block starting at `pc` costs under the module's cost model (charged when the
block is entered), or `nothing` if no basic block starts there.
"""
function block_gas_cost(program::Module, pc::Integer)
    cost = pvm_module_block_gas_cost(program, pc)
    cost < 0 ? nothing : cost
end

entry_pc(program::Module, entry::Union{AbstractString, Symbol}) = export_pc(program, entry)
entry_pc(::Module, entry::Integer) = UInt32(entry)

const BUSY = "instance is busy: run/call called re-entrantly from a host-call handler"

not_busy(instance::Instance) = instance.busy && throw(PolkaVMError(:WrongState, BUSY))

"""
    prepare_call!(instance, entry, args...)

Prepares a call by polkavm's default ABI to `entry` (an export name or a program counter) with up
to 9 integer arguments (A0..A5, then T0..T2). Gas is left as it is.
"""
function prepare_call!(instance::Instance, entry, args::Integer...)
    not_busy(instance)
    pc = entry_pc(instance.program, entry)
    values = UInt64[to_u64(arg) for arg in args]
    pvm_instance_prepare_call_args(instance, pc, values, length(values)) == 0 || throw_last_error()
    instance
end

function run_prepared(instance::Instance)
    result = Ref{PvmResult}()
    pvm_instance_run_checked(instance, result) == 0 || throw_last_error()
    RunResult(result[])
end

"""
    run!(instance) -> RunResult

Runs from the next program counter until the program stops. `Host` means it executed `ecalli`:
running again resumes after it.
"""
function run!(instance::Instance)
    not_busy(instance)
    run_prepared(instance)
end

"""
    call!(handler, instance, entry, args...; gas) -> RunResult

Prepares a call to `entry` (export name or program counter), sets `gas`, and runs until the
program stops for a reason other than a host call. Each `ecalli N` first calls
`handler(instance, N)`, which may read and write registers and memory. An exception from it
ends the call with `PolkaVMError(:HostAborted, "host call N aborted: <its message>")`, which
keeps it as `cause` (an `InterruptException` propagates as it is). Calling, running or preparing the same instance from
the handler throws `PolkaVMError`.
"""
function call!(handler, instance::Instance, entry, args::Integer...; gas::Integer)
    prepare_call!(instance, entry, args...)
    set_gas!(instance, gas)
    instance.busy = true
    try
        while true
            result = run_prepared(instance)
            result.status == Host || return result
            try
                handler(instance, result.host_call)
            catch exception
                exception isa InterruptException && rethrow()
                throw(PolkaVMError(:HostAborted, "host call $(result.host_call) aborted: $(reason(exception))", exception))
            end
        end
    finally
        instance.busy = false
    end
end

reason(exception::ErrorException) = exception.msg
reason(exception) = sprint(showerror, exception)

"""Memory back to the module's initial image, registers to zero."""
function reset!(instance::Instance)
    not_busy(instance)
    checked_call(pvm_instance_reset, instance)
    instance
end

gas(instance::Instance) = pvm_instance_get_gas(instance)
set_gas!(instance::Instance, gas::Integer) = (pvm_instance_set_gas(instance, gas); instance)

"""
`instance[:a0]`: a register by name (`:ra`, `:sp`, `:t0`..`:t2`, `:s0`, `:s1`, `:a0`..`:a5`), or
by its `PVM_REG_*` number (`instance[7]`).
"""
Base.getindex(instance::Instance, reg::Symbol) = pvm_instance_get_reg(instance, register_index(reg))
Base.getindex(instance::Instance, reg::Integer) = checked_call(pvm_instance_get_reg, instance, reg)

function Base.setindex!(instance::Instance, value::Integer, reg::Symbol)
    pvm_instance_set_reg(instance, register_index(reg), to_u64(value))
    instance
end

function Base.setindex!(instance::Instance, value::Integer, reg::Integer)
    checked_call(pvm_instance_set_reg, instance, reg, to_u64(value))
    instance
end

"""All 13 registers as a `NamedTuple` (`ra`, `sp`, ..., `a5`)."""
function registers(instance::Instance)
    values = Vector{UInt64}(undef, Int(PVM_REG_COUNT))
    pvm_instance_get_regs(instance, values) == 0 || throw_last_error()
    NamedTuple{keys(REGISTERS)}(Tuple(values))
end

"""Sets all 13 registers, in `PVM_REG_*` order."""
function set_registers!(instance::Instance, values)
    length(values) == PVM_REG_COUNT || throw(ArgumentError("expected $PVM_REG_COUNT register values, got $(length(values))"))
    words = UInt64[to_u64(value) for value in values]
    pvm_instance_set_regs(instance, words) == 0 || throw_last_error()
    instance
end

"""Where the next run starts, or `nothing`."""
function next_pc(instance::Instance)
    pc = pvm_instance_get_next_pc(instance)
    pc == PVM_PC_NONE ? nothing : pc
end

set_next_pc!(instance::Instance, pc::Integer) = (pvm_instance_set_pc(instance, pc); instance)

"""The page address of the last `Fault`, or `nothing` if the last run did not fault."""
function fault_address(instance::Instance)
    address = pvm_instance_fault_address(instance)
    address == 0 ? nothing : address
end

"""
    map_pages!(instance, address, size; writable)

Maps zeroed pages at `address` (page-aligned) covering `size` bytes (dynamic paging only).
"""
function map_pages!(instance::Instance, address::Integer, size::Integer; writable::Bool)
    pvm_instance_map_pages(instance, address, size, writable) == 0 || throw_last_error()
    instance
end

"""Makes mapped pages read-only (`read_only = true`) or writable again (dynamic paging only)."""
function protect_pages!(instance::Instance, address::Integer, size::Integer; read_only::Bool)
    pvm_instance_protect_pages(instance, address, size, read_only) == 0 ||
        throw_last_error()
    instance
end

"""Unmaps the pages at `address` covering `size` bytes; accessing them faults again."""
function free_pages!(instance::Instance, address::Integer, size::Integer)
    pvm_instance_free_pages(instance, address, size) == 0 || throw_last_error()
    instance
end

"""The program counter as the Graypaper reports it after the last run, or `nothing` if unknown."""
function graypaper_pc(instance::Instance)
    pc = pvm_instance_get_graypaper_pc(instance)
    pc == PVM_PC_NONE ? nothing : pc
end

"""Copies guest memory at `address` into `buffer`; throws if any byte is unreadable."""
function read_memory!(instance::Instance, address::Integer, buffer::Vector{UInt8})
    pvm_instance_read_memory(instance, address, buffer, length(buffer)) == 0 ||
        throw_last_error()
    buffer
end

read_memory(instance::Instance, address::Integer, count::Integer) =
    read_memory!(instance, address, Vector{UInt8}(undef, Int(count)))

"""Copies `data` into guest memory at `address`; throws if any byte is not writable."""
function write_memory!(instance::Instance, address::Integer, data::AbstractVector{UInt8})
    bytes = data isa Vector{UInt8} ? data : Vector{UInt8}(data)
    pvm_instance_write_memory(instance, address, bytes, length(bytes)) == 0 ||
        throw_last_error()
    instance
end

"""Grows the heap by `size` bytes (polkavm's `sbrk`); returns the new heap top."""
function sbrk!(instance::Instance, size::Integer)
    top = pvm_instance_sbrk(instance, size)
    top == 0 && throw_last_error()
    top
end

"""The heap's size in bytes; throws under dynamic paging, where there is no heap."""
heap_size(instance::Instance) = checked_call(pvm_instance_heap_size, instance)

end # module
