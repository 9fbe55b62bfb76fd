# The C ABI from plain `ccall`, without the PolkaVM package: the sample program
# (examples/sample_program.pvmasm) on the interpreter, answering its "report" host calls.
# From the repository root, after `make build` and
# `target/release/pvm-assemble examples/sample_program.pvmasm target/programs/sample_program.polkavm`:
#   julia examples/julia/ccall.jl target/release/libpolkavm_ffi.so target/programs/sample_program.polkavm
#
# `pvm_instance_run` returns this 24-byte struct by value. Declaring its return type as
# NTuple{3,UInt32} (12 bytes) is wrong: the fields land at the wrong offsets.
struct PvmResult
    status::UInt32         # offset 0
    gas_remaining::Int64   # offset 8
    host_call::UInt32      # offset 16
end
@assert sizeof(PvmResult) == 24

length(ARGS) == 2 || error("usage: julia ccall.jl LIBPOLKAVM_FFI.so SAMPLE.polkavm")
const LIB = ARGS[1]
const PVM_STATUS_HALT = UInt32(0)
const PVM_STATUS_HOST = UInt32(4)
const PVM_REG_A0 = UInt32(7)
const PVM_REG_A2 = UInt32(9)
const REPORT = UInt32(1)  # host call 1: report(i, total); the host answers in a2 with a bonus

last_error() = unsafe_string(ccall((:pvm_last_error, LIB), Ptr{Cchar}, ()))

engine = ccall((:pvm_engine_new_interpreter, LIB), Ptr{Cvoid}, ())
engine == C_NULL && error("engine: ", last_error())
blob = read(ARGS[2])
program = ccall((:pvm_module_new, LIB), Ptr{Cvoid}, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t), engine, blob, length(blob))
program == C_NULL && error("module: ", last_error())
instance = ccall((:pvm_instance_new, LIB), Ptr{Cvoid}, (Ptr{Cvoid}, Ptr{Cvoid}), engine, program)
instance == C_NULL && error("instance: ", last_error())

name = "sum_of_squares"
index = ccall((:pvm_module_find_export, LIB), Int32, (Ptr{Cvoid}, Ptr{UInt8}, Csize_t), program, name, sizeof(name))
index < 0 && error("export: ", last_error())
pc = ccall((:pvm_module_export_pc, LIB), UInt32, (Ptr{Cvoid}, UInt32), program, index)

n = UInt64(10)
ccall((:pvm_instance_prepare_call_args, LIB), Int32, (Ptr{Cvoid}, UInt32, Ptr{UInt64}, UInt32),
      instance, pc, Ref(n), 1) == 0 || error("prepare: ", last_error())
ccall((:pvm_instance_set_gas, LIB), Cvoid, (Ptr{Cvoid}, Int64), instance, 100_000)
reports = 0
result = ccall((:pvm_instance_run, LIB), PvmResult, (Ptr{Cvoid},), instance)
while result.status == PVM_STATUS_HOST
    result.host_call == REPORT || error("unknown host call ", result.host_call)
    global reports += 1
    ccall((:pvm_instance_set_reg, LIB), Cvoid, (Ptr{Cvoid}, UInt32, UInt64), instance, PVM_REG_A2, 1)
    global result = ccall((:pvm_instance_run, LIB), PvmResult, (Ptr{Cvoid},), instance)
end
result.status == PVM_STATUS_HALT || error("stopped with status ", result.status, ": ", last_error())
total = ccall((:pvm_instance_get_reg, LIB), UInt64, (Ptr{Cvoid}, UInt32), instance, PVM_REG_A0)
println("[interpreter] sum_of_squares($n) = $total after $reports host calls, $(result.gas_remaining) gas left")

# Handles may be freed in any order.
ccall((:pvm_instance_free, LIB), Cvoid, (Ptr{Cvoid},), instance)
ccall((:pvm_module_free, LIB), Cvoid, (Ptr{Cvoid},), program)
ccall((:pvm_engine_free, LIB), Cvoid, (Ptr{Cvoid},), engine)
total == 395 && reports == 10 || exit(1)
