# The PolkaVM package: the sample program (examples/sample_program.pvmasm) on both backends,
# answering its "report" host calls. From the repository root, after `make target/programs/sample_program.polkavm`:
#   julia --project=bindings/julia/PolkaVM examples/julia/polkavm.jl target/programs/sample_program.polkavm
# The package finds the library through $POLKAVM_FFI_LIB, else this repository's target/release
# or target/portable build (`make portable-lib`, for Linux older than the build machine's), else
# the system library path (`make install`).
using PolkaVM

length(ARGS) == 1 || error("usage: julia --project=bindings/julia/PolkaVM polkavm.jl SAMPLE.polkavm")
const REPORT = 1  # host call 1: report(i, total); the host answers in a2 with a bonus

function run_sample(backend::Symbol, blob::Vector{UInt8}, n::Integer)
    engine = Engine(backend = backend)
    instance = Instance(PolkaVM.Module(engine, blob))
    reports = 0
    result = call!(instance, "sum_of_squares", n; gas = 100_000) do vm, number
        number == REPORT || error("unknown host call $number")
        reports += 1
        vm[:a2] = 1  # the bonus the host wants added to the total
    end
    total = instance[:a0]
    println("[$backend] sum_of_squares($n) = $total after $reports host calls, $(result.gas_remaining) gas left")
    close(instance)  # now rather than at garbage collection
    result.status == PolkaVM.Halt && total == n * (n + 1) * (2n + 1) ÷ 6 + n && reports == n
end

println(PolkaVM.version())
blob = read(ARGS[1])
all(run_sample(backend, blob, 10) for backend in (:interpreter, :compiler)) || exit(1)
