# The package's tests, run offline with the Test standard library (Pkg.test() would need the
# General registry). From the repository root, after `make programs` (`make test-julia` runs
# them on Julia 1.5.3 against the portable library):
#   JULIA_NUM_THREADS=2 julia --project=bindings/julia/PolkaVM bindings/julia/PolkaVM/test/runtests.jl
using Test
using PolkaVM
using PolkaVM.LibPolkaVM
include("json.jl")

const REPOSITORY = normpath(joinpath(@__DIR__, "..", "..", "..", ".."))
const PROGRAMS = get(ENV, "POLKAVM_TEST_PROGRAMS", joinpath(REPOSITORY, "target", "programs"))
function program_file(name)
    path = joinpath(PROGRAMS, name)
    isfile(path) || error("$path is missing: run `make programs` at the repository root")
    path
end
const PROGRAM_PATH = program_file("test_program.polkavm")
const PROGRAM = read(PROGRAM_PATH)
# The same program's code in the Graypaper's encoding (JAM): the same program counters, no exports.
const JAM_CODE = read(program_file("test_program.jam"))
const BACKENDS = (:interpreter, :compiler)

thrown(f) = try
    f()
    nothing
catch exception
    exception
end

# An error from the library, with the library's own kind and message.
function library_error(f)
    error = thrown(f)
    error isa PolkaVMError || return error
    @test error.message == unsafe_string(pvm_last_error())
    @test error.kind == PolkaVM.ERROR_KINDS[pvm_last_error_kind()]
    error
end

new_instance(backend = :interpreter; settings...) = Instance(PolkaVM.Module(Engine(backend = backend), PROGRAM; settings...))
# Dynamic paging: on the JIT with polkavm's generic sandbox, which needs no userfaultfd.
paging_engine(backend) =
    backend == :compiler ? Engine(backend = :compiler, sandbox = :generic, allow_dynamic_paging = true) :
                           Engine(backend = :interpreter, allow_dynamic_paging = true)
no_host_calls(_, number) = error("unexpected host call $number")

@testset "PolkaVM" begin
    @testset "structs have their C layout" begin
        @test sizeof(PvmResult) == 24
        @test [fieldoffset(PvmResult, i) for i in 1:3] == [0, 8, 16]
        for (T, (size, offsets)) in C_LAYOUTS
            @test sizeof(T) == size
            @test Tuple(Int(fieldoffset(T, i)) for i in 1:fieldcount(T)) == offsets
        end
    end

    @testset "library" begin
        @test pvm_abi_version() >= PVM_ABI_VERSION
        @test occursin("polkavm", PolkaVM.version())
        @test isfile(libpolkavm())
        for name in fieldnames(LibPolkaVM.FunctionPointers)
            @test getfield(LibPolkaVM.POINTERS, name) != C_NULL
        end
        # The lookup order: $POLKAVM_FFI_LIB, then the build outputs that load, then the system path.
        missing_path = "/nonexistent/libpolkavm_ffi.so"
        env_error = thrown(() -> LibPolkaVM.open_library(missing_path, String[]))
        @test env_error isa ErrorException && occursin(missing_path, env_error.msg) && occursin("POLKAVM_FFI_LIB", env_error.msg)
        not_a_library = thrown(() -> LibPolkaVM.open_library(PROGRAM_PATH, String[]))
        @test occursin("does not load", not_a_library.msg)
        handle, path = LibPolkaVM.open_library("", [missing_path, PROGRAM_PATH, libpolkavm()])
        @test path == libpolkavm() && handle != C_NULL
        if isempty(LibPolkaVM.Libdl.find_library("libpolkavm_ffi"))
            search_error = thrown(() -> LibPolkaVM.open_library("", [missing_path, PROGRAM_PATH]))
            @test occursin("$missing_path (not built)", search_error.msg)
            @test occursin("$PROGRAM_PATH (does not load", search_error.msg)
            @test occursin("system library path", search_error.msg)
        end
    end

    @testset "engine and module" begin
        engine = Engine(backend = :interpreter, worker_count = 1)
        @test PolkaVM.backend(engine) == :interpreter
        @test PolkaVM.backend(Engine(backend = :compiler)) == :compiler
        program = PolkaVM.Module(engine, PROGRAM)
        names = first.(exports(program))
        @test sort(names) == ["add", "host", "host_loop", "load", "spin", "store", "sum", "trap"]
        @test export_pc(program, "add") == export_pc(program, :add) == last(exports(program)[findfirst(==("add"), names)])
        @test imports(program) == String[]
        info = memory_info(program)
        @test info.ro_data_size == 4096 && info.rw_data_size == 4096
        @test info.stack_address_high - info.stack_address_low == 4096
        @test library_error(() -> export_pc(program, "no_such_export")).message == "no export named \"no_such_export\""
        @test_throws ArgumentError Engine(backend = :quantum)
        @test_throws ArgumentError PolkaVM.Module(engine, PROGRAM; gas_metering = :sometimes)
        @test occursin("bad magic", library_error(() -> PolkaVM.Module(engine, Vector{UInt8}("NOT A PROGRAM"))).message)
        @test occursin("allow_dynamic_paging", library_error(() -> PolkaVM.Module(engine, PROGRAM; dynamic_paging = true)).message)
        @test occursin("page size", library_error(() -> PolkaVM.Module(engine, PROGRAM; page_size = 1000)).message)
    end

    for backend in BACKENDS
        @testset "every status on the $backend" begin
            instance = new_instance(backend)
            result = call!(no_host_calls, instance, "add", 40, 2; gas = 10_000)
            @test result.status == PolkaVM.Halt && instance[:a0] == 42
            @test 0 < result.gas_remaining < 10_000 && gas(instance) == result.gas_remaining
            @test call!(no_host_calls, instance, "add", -1, 0; gas = 10_000).status == PolkaVM.Halt
            @test instance[:a0] == typemax(UInt64)
            @test call!(no_host_calls, instance, "trap"; gas = 10_000).status == PolkaVM.Panic
            @test next_pc(instance) === nothing
            spun = call!(no_host_calls, instance, "spin"; gas = 1_000)
            @test spun.status == PolkaVM.OutOfGas && spun.gas_remaining <= 0

            prepare_call!(instance, "host", 5, 0)
            set_gas!(instance, 10_000)
            stop = run!(instance)
            @test stop.status == PolkaVM.Host && stop.host_call == 7

            stepper = new_instance(backend; step_tracing = true)
            prepare_call!(stepper, "add", 1, 2)
            set_gas!(stepper, 100)
            steps = 0
            while (result = run!(stepper)).status == PolkaVM.Step
                steps += 1
            end
            @test 2 <= steps < 100 && result.status == PolkaVM.Halt && stepper[:a0] == 3

            unmetered = new_instance(backend; gas_metering = :none)
            @test call!(no_host_calls, unmetered, "sum", 1000; gas = 0).status == PolkaVM.Halt
            @test unmetered[:a0] == 500500

            paged = Instance(PolkaVM.Module(paging_engine(backend), PROGRAM; dynamic_paging = true))
            @test fault_address(paged) === nothing
            @test call!(no_host_calls, paged, "load", 0x20010; gas = 10_000).status == PolkaVM.Fault
            @test fault_address(paged) == 0x20000
        end

        @testset "host calls through call! and a hand-written loop on the $backend" begin
            instance = new_instance(backend)
            seen = UInt32[]
            result = call!(instance, "host", 40, 0; gas = 10_000) do vm, number
                push!(seen, number)
                number == 8 && (vm[:a1] = 2)
            end
            @test seen == [7, 8]
            @test result.status == PolkaVM.Halt && instance[:a0] == 42

            count = Ref(0)
            call!((_, n) -> (count[] += n), instance, "host_loop", 100; gas = 100_000)
            @test count[] == 100 && instance[:a0] == 100

            # The same, written out: run until the program stops for something else than ecalli.
            prepare_call!(instance, "host", 5, 0)
            set_gas!(instance, 10_000)
            numbers = UInt32[]
            result = run!(instance)
            while result.status == PolkaVM.Host
                push!(numbers, result.host_call)
                @test gas(instance) == result.gas_remaining
                result.host_call == 8 && (instance[:a1] = 100)
                result = run!(instance)
            end
            @test numbers == [7, 8] && result.status == PolkaVM.Halt && instance[:a0] == 105
        end

        @testset "JAM mode on the $backend" begin
            pcs = Dict(exports(PolkaVM.Module(Engine(backend = :interpreter), PROGRAM)))
            engine = paging_engine(backend)
            instance = Instance(PolkaVM.jam_module(engine, JAM_CODE))
            @test exports(instance.program) == []
            halt = 0xffff0000  # returning here halts (polkavm's default ABI; the Graypaper's halt address)
            set_registers!(instance, [halt, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0])
            set_next_pc!(instance, pcs["sum"])
            set_gas!(instance, 1_000)
            @test run!(instance).status == PolkaVM.Halt && instance[:a0] == 55

            # `load`: a0 = u32 [a0]. Nothing is mapped until map_pages!.
            set_registers!(instance, [halt, 0, 0, 0, 0, 0, 0, 0x20ffc, 0, 0, 0, 0, 0])
            set_next_pc!(instance, pcs["load"])
            @test run!(instance).status == PolkaVM.Fault
            @test fault_address(instance) == 0x20000 && graypaper_pc(instance) == pcs["load"]
            @test library_error(() -> read_memory(instance, 0x20ffc, 4)) isa PolkaVMError
            map_pages!(instance, 0x20000, 4096; writable = true)
            write_memory!(instance, 0x20ffc, UInt8[0x2a, 0, 0, 0])
            @test run!(instance).status == PolkaVM.Halt && instance[:a0] == 0x2a

            protect_pages!(instance, 0x20000, 4096; read_only = true)
            @test library_error(() -> write_memory!(instance, 0x20ffc, UInt8[1])) isa PolkaVMError
            set_registers!(instance, [halt, 0, 0, 0, 0, 0, 0, 0x20ff0, 7, 0, 0, 0, 0])
            set_next_pc!(instance, pcs["store"])
            @test run!(instance).status == PolkaVM.Fault  # read-only for the program too
            protect_pages!(instance, 0x20000, 4096; read_only = false)
            @test run!(instance).status == PolkaVM.Halt && read_memory(instance, 0x20ff0, 4) == [7, 0, 0, 0]
            free_pages!(instance, 0x20000, 4096)
            @test library_error(() -> read_memory(instance, 0x20ff0, 1)) isa PolkaVMError
            @test occursin("heap", library_error(() -> heap_size(instance)).message)
            @test library_error(() -> sbrk!(instance, 16)) isa PolkaVMError
            @test library_error(() -> map_pages!(instance, 0x20001, 4096; writable = true)) isa PolkaVMError

            trap_at_end = PolkaVM.jam_module(engine, UInt8[0, 0, 1, 0, 1]; isa = :jam_v1, gas_metering = :sync)
            @test call!(no_host_calls, Instance(trap_at_end), 0; gas = 100).status == PolkaVM.Panic
            @test_throws ArgumentError PolkaVM.jam_module(engine, JAM_CODE; isa = :x86)
            @test_throws ArgumentError PolkaVM.jam_module(engine, JAM_CODE; colour = 3)
            @test occursin("allow_dynamic_paging", library_error(() -> PolkaVM.jam_module(Engine(backend = backend), JAM_CODE)).message)
        end
    end

    @testset "gas cost models on the $backend" for backend in BACKENDS
        costs = Int64[]
        for model in (:naive, :full_l1_hit, :full_l2_hit, :full_l3_hit)
            engine = Engine(backend = backend, default_cost_model = model)
            by_engine = PolkaVM.Module(engine, PROGRAM)
            naive = PolkaVM.Module(engine, PROGRAM; cost_model = :naive)
            load_pc = export_pc(by_engine, "load")
            push!(costs, block_gas_cost(by_engine, load_pc))
            @test block_gas_cost(naive, load_pc) == 2  # `a0 = u32 [a0]; ret`: two instructions
            @test block_gas_cost(by_engine, load_pc + 1) === nothing
            # The block is charged when it is entered: a run of it uses exactly its cost.
            instance = Instance(by_engine)
            result = call!(no_host_calls, instance, "load", memory_info(by_engine).rw_data_address; gas = 10_000)
            @test result.status == PolkaVM.Halt && instance[:a0] == 42 && 10_000 - result.gas_remaining == costs[end]
        end
        @test costs[1] == 2 && issorted(costs) && allunique(costs)
        # JAM programs default to Graypaper 0.8.0's gas (:full_l2_hit); :default takes the engine's.
        load_pc = export_pc(PolkaVM.Module(Engine(backend = :interpreter), PROGRAM), "load")
        engine = Engine(backend = backend, allow_dynamic_paging = true, sandbox = backend == :compiler ? :generic : :auto)
        @test block_gas_cost(PolkaVM.jam_module(engine, JAM_CODE), load_pc) == costs[3]
        @test block_gas_cost(PolkaVM.jam_module(engine, JAM_CODE; cost_model = :naive), load_pc) == 2
        @test block_gas_cost(PolkaVM.jam_module(engine, JAM_CODE; cost_model = :default), load_pc) == 2
        @test_throws ArgumentError Engine(default_cost_model = :free)
        @test_throws ArgumentError PolkaVM.Module(engine, PROGRAM; cost_model = :free)
    end

    @testset "errors carry the library's message" begin
        instance = new_instance()
        @test library_error(() -> run!(instance)).message == "cannot run: no call prepared (call prepare_call or set the next pc first)"
        @test occursin("too many arguments", library_error(() -> prepare_call!(instance, "add", zeros(Int, 10)...)).message)
        unreadable = library_error(() -> read_memory(instance, 0, 4))
        @test startswith(unreadable.message, "read of 4 bytes at 0x00000000 failed")
        @test library_error(() -> instance[13]).message == "register 13 out of range (0..12)"
        @test library_error(() -> (instance[13] = 1)).message == "register 13 out of range (0..12)"
        info = memory_info(instance.program)
        @test library_error(() -> write_memory!(instance, info.ro_data_address, UInt8[1])) isa PolkaVMError
        @test occursin("dynamic paging", library_error(() -> map_pages!(instance, 0x10000, 4096; writable = true)).message)
        @test_throws ArgumentError instance[:x9]
        @test_throws ArgumentError set_registers!(instance, [1, 2])
        @test sprint(showerror, PolkaVMError(:Memory, "boom")) == "PolkaVMError(:Memory): boom"
    end

    @testset "the error contract (tests/error_contract.json)" begin
        # Each case's input, done from Julia; every face checks the same kinds and messages.
        interpreter() = Engine(backend = :interpreter)
        cases = Dict(
            "run_without_call" => () -> run!(new_instance()),
            "register_out_of_range" => () -> new_instance()[13],
            "bad_blob" => () -> PolkaVM.Module(interpreter(), Vector{UInt8}("NOT A PROGRAM")),
            "empty_blob" => () -> PolkaVM.Module(interpreter(), UInt8[]),
            "no_such_export" => () -> export_pc(PolkaVM.Module(interpreter(), PROGRAM), "missing"),
            "too_many_arguments" => () -> prepare_call!(new_instance(), "add", zeros(Int, 10)...),
            "bad_page_size" => () -> PolkaVM.Module(interpreter(), PROGRAM; page_size = 1000),
            "unmapped_memory" => () -> read_memory(new_instance(), 0, 4),
            "dynamic_paging_not_allowed" => () -> PolkaVM.Module(interpreter(), PROGRAM; dynamic_paging = true),
            "heap_size_under_dynamic_paging" =>
                () -> heap_size(Instance(PolkaVM.Module(paging_engine(:interpreter), PROGRAM; dynamic_paging = true))),
            "map_pages_without_dynamic_paging" => () -> map_pages!(new_instance(), 0x10000, 4096; writable = true),
            "handler_failure" => () -> call!((_, n) -> n == 7 && error("boom"), new_instance(), "host", 1; gas = 10_000),
        )
        contract = TestJSON.parse_json(read(joinpath(REPOSITORY, "tests", "error_contract.json"), String))
        @test "julia" in contract["faces"]
        @test sort(String.(collect(values(PolkaVM.ERROR_KINDS)))) == sort(contract["kinds"])
        for (name, case) in contract["cases"]
            "julia" in get(case, "only_in", ["julia"]) || continue
            @test haskey(cases, name)  # a case added to the file fails here until Julia runs it
            error = haskey(cases, name) ? thrown(cases[name]) : nothing
            @test error isa PolkaVMError && (String(error.kind), error.message) == (case["kind"], case["message"])
        end
        @test issubset(keys(cases), keys(contract["cases"]))
    end

    @testset "handler errors and re-entrant calls" begin
        instance = new_instance()
        aborted = thrown(() -> call!((_, n) -> error("boom"), instance, "host", 1; gas = 10_000))
        @test aborted isa PolkaVMError && aborted.kind == :HostAborted && aborted.message == "host call 7 aborted: boom"
        @test aborted.cause isa ErrorException
        other = thrown(() -> call!((_, _) -> throw(DomainError(1, "too big")), instance, "host", 1; gas = 10_000))
        @test other.message == "host call 7 aborted: DomainError with 1:\ntoo big" && other.cause isa DomainError
        @test !instance.busy
        @test call!(no_host_calls, instance, "add", 1, 1; gas = 10_000).status == PolkaVM.Halt
        for reenter in ((vm, _) -> call!(no_host_calls, vm, "add", 1, 1; gas = 10_000), (vm, _) -> run!(vm),
                        (vm, _) -> prepare_call!(vm, "add"), (vm, _) -> reset!(vm))
            nested = thrown(() -> call!(reenter, instance, "host", 1, 2; gas = 10_000))
            @test nested isa PolkaVMError && nested.kind == :HostAborted && occursin("instance is busy", nested.message)
            @test nested.cause isa PolkaVMError && nested.cause.kind == :WrongState
        end
        @test call!(no_host_calls, instance, "add", 2, 2; gas = 10_000).status == PolkaVM.Halt
        @test instance[:a0] == 4
    end

    @testset "registers" begin
        instance = new_instance()
        instance[:a3] = 0x1234
        @test instance[:a3] == 0x1234 == instance[Int(PVM_REG_A3)]
        instance[Int(PVM_REG_T0)] = -1
        @test instance[:t0] == typemax(UInt64)
        values = UInt64.(1:13)
        set_registers!(instance, values)
        @test collect(registers(instance)) == values
        @test registers(instance).a5 == 13
    end

    @testset "memory, heap and reset!" begin
        instance = new_instance()
        info = memory_info(instance.program)
        @test read_memory(instance, info.rw_data_address, 4) == [0x2a, 0, 0, 0]
        @test read_memory(instance, info.ro_data_address, 4) == [1, 2, 3, 4]
        write_memory!(instance, info.rw_data_address, UInt8[7, 0, 0, 0])
        call!(no_host_calls, instance, "load", info.rw_data_address; gas = 10_000)
        @test instance[:a0] == 7
        call!(no_host_calls, instance, "store", info.rw_data_address + 4, 99; gas = 10_000)
        @test read_memory!(instance, info.rw_data_address + 4, zeros(UInt8, 1)) == [99]
        @test reset!(instance) === instance
        @test read_memory(instance, info.rw_data_address, 1) == [0x2a] && instance[:a0] == 0
        top = sbrk!(instance, 0)
        @test sbrk!(instance, 4096) >= top + 4096
        @test heap_size(instance) >= 4096
        @test library_error(() -> sbrk!(instance, typemax(UInt32))) isa PolkaVMError

        paged = Instance(PolkaVM.Module(paging_engine(:interpreter), PROGRAM; dynamic_paging = true))
        @test library_error(() -> heap_size(paged)).message == "heap size is not available with dynamic paging"
    end

    @testset "tasks and threads, each with its own instance" begin
        engine = Engine(backend = :interpreter)
        program = PolkaVM.Module(engine, PROGRAM)  # engines and modules are shared between threads
        work(i) = begin
            instance = Instance(program)
            total = 0
            for round in 1:20
                calls = Ref(0)
                result = call!((vm, _) -> (calls[] += 1), instance, "host_loop", i + round; gas = 1_000_000)
                result.status == PolkaVM.Halt && calls[] == i + round || return nothing
                total += Int(instance[:a0])
            end
            # Each thread has its own last error.
            message = thrown(() -> export_pc(program, "missing_$i")).message
            (Threads.threadid(), total, message)
        end
        results = fetch.([Threads.@spawn(work(i)) for i in 1:8])
        for (i, result) in enumerate(results)
            @test result !== nothing
            @test result[2] == sum(i + round for round in 1:20)
            @test result[3] == "no export named \"missing_$i\""
        end
        @info "$(length(results)) tasks ran on threads $(sort(unique(first.(results)))) of $(Threads.nthreads())"
    end

    @testset "closing and freeing in any order" begin
        for order in ((1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1))
            engine = Engine(backend = :interpreter)
            program = PolkaVM.Module(engine, PROGRAM)
            instance = Instance(program)
            add_pc = export_pc(program, "add")  # names need the module open; a pc does not
            handles = (engine, program, instance)
            for index in order
                close(handles[index])
                @test !isopen(handles[index])
                if isopen(instance)
                    @test call!(no_host_calls, instance, add_pc, 20, 22; gas = 10_000).status == PolkaVM.Halt
                    @test instance[:a0] == 42
                end
            end
            close(instance)  # closing twice is fine
            closed = thrown(() -> instance[:a0])
            @test closed isa PolkaVMError && (closed.kind, closed.message) == (:InvalidArgument, "this Instance has been closed")
            @test_throws PolkaVMError Instance(program)
            @test_throws PolkaVMError PolkaVM.Module(engine, PROGRAM)
        end
    end

    @testset "finalizers free handles in any order under GC.gc()" begin
        # Handles dropped together: their finalizers run in whatever order the GC picks (it does
        # not order them), and the library keeps what an instance needs alive until the last goes.
        function dropped_handles(count)
            refs = WeakRef[]
            for _ in 1:count
                engine = Engine(backend = :interpreter)
                program = PolkaVM.Module(engine, PROGRAM)
                instance = Instance(program)
                call!(no_host_calls, instance, "add", 1, 2; gas = 10_000)
                append!(refs, WeakRef.((engine, program, instance)))
            end
            refs
        end
        refs = dropped_handles(50)
        GC.gc(); GC.gc(); GC.gc()
        @test all(ref -> ref.value === nothing, refs)
        # A finalizer after close() frees nothing twice.
        closed = new_instance()
        close(closed)
        closed = nothing
        GC.gc()
        @test call!(no_host_calls, new_instance(), "add", 2, 3; gas = 10_000).status == PolkaVM.Halt
    end

    @testset "the README's Julia snippets run" begin
        readme = read(joinpath(REPOSITORY, "README.md"), String)
        section = match(r"\n### Julia .*?\n## "s, readme).match
        snippets = [m.captures[1] for m in eachmatch(r"```julia\n(.*?)```"s, section)]
        @test length(snippets) == 2
        cd(REPOSITORY) do
            for snippet in snippets
                @test Base.include_string(Module(:Snippet), snippet, "README.md") === true
            end
        end
    end
end
