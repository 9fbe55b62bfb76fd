# The C ABI from plain Julia, without the PolkaVM package: `Libdl.dlsym` and `@ccall` (Julia 1.5
# and later). The sample program (examples/sample_program.pvmasm) on both backends, answering its
# "report" host calls. From the repository root, after `make target/programs/sample_program.polkavm`:
#   julia examples/julia/ccall.jl target/release/libpolkavm_ffi.so target/programs/sample_program.polkavm
using Libdl

# `pvm_instance_run` returns this 24-byte struct by value. Declaring its return type as
# NTuple{3,UInt32} (12 bytes) is wrong: the fields land at the wrong offsets.
struct PvmResult
    status::UInt32         # offset 0
    gas_remaining::Int64   # offset 8
    host_call::UInt32      # offset 16
end
@assert sizeof(PvmResult) == 24

length(ARGS) == 2 || error("usage: julia ccall.jl LIBPOLKAVM_FFI.so SAMPLE.polkavm")
const LIB = Libdl.dlopen(ARGS[1])
const PVM_STATUS_HALT = UInt32(0)
const PVM_STATUS_HOST = UInt32(4)
const PVM_REG_A0 = UInt32(7)
const PVM_REG_A2 = UInt32(9)
const REPORT = UInt32(1)  # host call 1: report(i, total); the host answers in a2 with a bonus

# Look each function up once; `@ccall $pointer(...)` then calls it directly.
const last_error = Libdl.dlsym(LIB, :pvm_last_error)
const engine_new_interpreter = Libdl.dlsym(LIB, :pvm_engine_new_interpreter)
const engine_new = Libdl.dlsym(LIB, :pvm_engine_new)
const engine_free = Libdl.dlsym(LIB, :pvm_engine_free)
const module_new = Libdl.dlsym(LIB, :pvm_module_new)
const module_free = Libdl.dlsym(LIB, :pvm_module_free)
const module_find_export = Libdl.dlsym(LIB, :pvm_module_find_export)
const module_export_pc = Libdl.dlsym(LIB, :pvm_module_export_pc)
const instance_new = Libdl.dlsym(LIB, :pvm_instance_new)
const instance_free = Libdl.dlsym(LIB, :pvm_instance_free)
const prepare_call_args = Libdl.dlsym(LIB, :pvm_instance_prepare_call_args)
const set_gas = Libdl.dlsym(LIB, :pvm_instance_set_gas)
const set_reg = Libdl.dlsym(LIB, :pvm_instance_set_reg)
const get_reg = Libdl.dlsym(LIB, :pvm_instance_get_reg)
const run_checked = Libdl.dlsym(LIB, :pvm_instance_run_checked)

fail(what) = error(what, ": ", unsafe_string(@ccall $last_error()::Ptr{Cchar}))

function run(instance::Ptr{Cvoid})
    result = Ref{PvmResult}()
    @ccall($run_checked(instance::Ptr{Cvoid}, result::Ref{PvmResult})::Int32) == 0 || fail("run")
    result[]
end

function sum_of_squares(backend::String, blob::Vector{UInt8}, n::UInt64)
    engine = backend == "compiler" ? @ccall($engine_new()::Ptr{Cvoid}) : @ccall($engine_new_interpreter()::Ptr{Cvoid})
    engine == C_NULL && fail("engine")
    program = @ccall $module_new(engine::Ptr{Cvoid}, blob::Ptr{UInt8}, length(blob)::Csize_t)::Ptr{Cvoid}
    program == C_NULL && fail("module")
    instance = @ccall $instance_new(engine::Ptr{Cvoid}, program::Ptr{Cvoid})::Ptr{Cvoid}
    instance == C_NULL && fail("instance")

    name = "sum_of_squares"
    index = @ccall $module_find_export(program::Ptr{Cvoid}, name::Ptr{UInt8}, sizeof(name)::Csize_t)::Int32
    index < 0 && fail("export")
    pc = @ccall $module_export_pc(program::Ptr{Cvoid}, index::UInt32)::UInt32
    @ccall($prepare_call_args(instance::Ptr{Cvoid}, pc::UInt32, Ref(n)::Ptr{UInt64}, 1::UInt32)::Int32) == 0 ||
        fail("prepare")
    @ccall $set_gas(instance::Ptr{Cvoid}, 100_000::Int64)::Cvoid
    reports = 0
    result = run(instance)
    while result.status == PVM_STATUS_HOST
        result.host_call == REPORT || error("unknown host call ", result.host_call)
        reports += 1
        @ccall $set_reg(instance::Ptr{Cvoid}, PVM_REG_A2::UInt32, 1::UInt64)::Cvoid  # the bonus
        result = run(instance)
    end
    result.status == PVM_STATUS_HALT || error("stopped with status ", result.status)
    total = @ccall $get_reg(instance::Ptr{Cvoid}, PVM_REG_A0::UInt32)::UInt64
    println("[$backend] sum_of_squares($n) = $total after $reports host calls, $(result.gas_remaining) gas left")

    # Handles may be freed in any order.
    @ccall $module_free(program::Ptr{Cvoid})::Cvoid
    @ccall $engine_free(engine::Ptr{Cvoid})::Cvoid
    @ccall $instance_free(instance::Ptr{Cvoid})::Cvoid
    total == n * (n + 1) * (2n + 1) ÷ 6 + n && reports == n
end

blob = read(ARGS[2])
all(sum_of_squares(backend, blob, UInt64(10)) for backend in ("interpreter", "compiler")) || exit(1)
