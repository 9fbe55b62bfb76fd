# julia --project=bindings/julia/PolkaVM -e 'using Pkg; Pkg.test()'  (after `make programs`)
using Test
using PolkaVM
using PolkaVM.LibPolkaVM

const PROGRAM_PATH = get(ENV, "POLKAVM_TEST_PROGRAM",
                         normpath(joinpath(@__DIR__, "..", "..", "..", "..", "target", "programs", "test_program.polkavm")))
isfile(PROGRAM_PATH) || error("$PROGRAM_PATH is missing: run `make programs` at the repository root")
const PROGRAM = read(PROGRAM_PATH)

# The JAM PVM test vectors v0.4 in the repository (tests/vectors, as for `make test-conformance`).
const CONFORMANCE_DIR = get(ENV, "PVM_CONFORMANCE_DIR",
                            normpath(joinpath(@__DIR__, "..", "..", "..", "..", "tests", "vectors", "jam-pvm-v0.4")))

function conformance_program(name)
    path = joinpath(CONFORMANCE_DIR, "programs", "$name.json")
    isfile(path) || return nothing
    found = match(r"\"program\":\s*\[([\d,\s]*)\]", read(path, String))
    UInt8[parse(Int, strip(byte)) for byte in split(found.captures[1], ",")]
end

thrown(f) = try
    f()
    nothing
catch exception
    exception
end

new_instance(; settings...) = Instance(PolkaVM.Module(Engine(backend = :interpreter), PROGRAM; settings...))

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
        @test !isempty(libpolkavm())
        missing_path = "/nonexistent/libpolkavm_ffi.so"
        env_error = thrown(() -> LibPolkaVM.locate_library(missing_path, "/nonexistent/build/libpolkavm_ffi.so"))
        @test env_error isa ErrorException && occursin(missing_path, env_error.msg) && occursin("POLKAVM_FFI_LIB", env_error.msg)
        if isempty(LibPolkaVM.Libdl.find_library("libpolkavm_ffi"))
            search_error = thrown(() -> LibPolkaVM.locate_library("", "/nonexistent/build/libpolkavm_ffi.so"))
            @test occursin("/nonexistent/build/libpolkavm_ffi.so", search_error.msg)
            @test occursin("system library path", search_error.msg)
        end
    end

    @testset "engine and module" begin
        engine = Engine(backend = :interpreter, worker_count = 1)
        @test PolkaVM.backend(engine) == :interpreter
        @test occursin("polkavm", PolkaVM.version())
        program = PolkaVM.Module(engine, PROGRAM)
        names = first.(exports(program))
        @test ["add", "trap", "spin", "host", "store", "load", "sum", "host_loop"] ⊆ names
        @test export_pc(program, "add") == export_pc(program, :add) == last(exports(program)[findfirst(==("add"), names)])
        @test imports(program) isa Vector{String}
        @test memory_info(program).rw_data_size >= 4
        @test_throws PolkaVMError export_pc(program, "no_such_export")
        @test_throws ArgumentError Engine(backend = :quantum)
        @test_throws ArgumentError PolkaVM.Module(engine, PROGRAM; gas_metering = :sometimes)
        bad = thrown(() -> PolkaVM.Module(engine, UInt8[1, 2, 3]))
        @test bad isa PolkaVMError && length(bad.message) > length("loading a module: ")
    end

    @testset "calls" begin
        instance = new_instance()
        result = call!((_, n) -> error("unexpected host call $n"), instance, "add", 2, 3; gas = 10_000)
        @test result.status == PolkaVM.Halt
        @test instance[:a0] == 5
        @test 0 < result.gas_remaining < 10_000
        @test call!((_, _) -> nothing, instance, "add", -1, 0; gas = 10_000).status == PolkaVM.Halt
        @test instance[:a0] == typemax(UInt64)
        @test call!((_, _) -> nothing, instance, "trap"; gas = 10_000).status == PolkaVM.Panic
        @test call!((_, _) -> nothing, instance, "spin"; gas = 1_000).status == PolkaVM.OutOfGas
        @test call!((_, _) -> nothing, instance, export_pc(instance.program, "sum"), 10; gas = 10_000).status == PolkaVM.Halt
        @test instance[:a0] == 55
        @test next_pc(instance) === nothing
        @test_throws PolkaVMError run!(instance)
    end

    @testset "host calls" begin
        instance = new_instance()
        seen = UInt32[]
        result = call!(instance, "host", 40, 0; gas = 10_000) do inst, number
            push!(seen, number)
            number == 8 && (inst[:a1] = 2)
        end
        @test seen == [7, 8]
        @test result.status == PolkaVM.Halt && instance[:a0] == 42

        count = Ref(0)
        call!((_, n) -> (count[] += n), instance, "host_loop", 100; gas = 100_000)
        @test count[] == 100 && instance[:a0] == 100

        prepare_call!(instance, "host", 1, 2)
        set_gas!(instance, 10_000)
        first_stop = run!(instance)
        @test first_stop.status == PolkaVM.Host && first_stop.host_call == 7
        @test gas(instance) == first_stop.gas_remaining
        set_next_pc!(instance, next_pc(instance))
        second_stop = run!(instance)
        @test second_stop.status == PolkaVM.Host && second_stop.host_call == 8
    end

    @testset "handler errors and re-entrant calls" begin
        instance = new_instance()
        @test_throws DomainError call!((_, _) -> throw(DomainError(1)), instance, "host", 1, 2; gas = 10_000)
        @test !instance.busy
        @test call!((_, _) -> nothing, instance, "add", 1, 1; gas = 10_000).status == PolkaVM.Halt
        reenter = (inst, _) -> call!((_, _) -> nothing, inst, "add", 1, 1; gas = 10_000)
        @test_throws PolkaVMError call!(reenter, instance, "host", 1, 2; gas = 10_000)
        @test_throws PolkaVMError call!((inst, _) -> run!(inst), instance, "host", 1, 2; gas = 10_000)
        @test call!((_, _) -> nothing, instance, "add", 2, 2; gas = 10_000).status == PolkaVM.Halt
        @test instance[:a0] == 4
    end

    @testset "registers" begin
        instance = new_instance()
        instance[:a3] = 0x1234
        @test instance[:a3] == 0x1234
        instance[:t0] = -1
        @test instance[:t0] == typemax(UInt64)
        @test_throws ArgumentError instance[:x9]
        values = UInt64.(1:13)
        set_registers!(instance, values)
        @test collect(registers(instance)) == values
        @test registers(instance).a5 == 13
        @test_throws ArgumentError set_registers!(instance, [1, 2])
    end

    @testset "memory" begin
        instance = new_instance()
        info = memory_info(instance.program)
        @test read_memory(instance, info.rw_data_address, 4) == [0x2a, 0, 0, 0]
        @test read_memory(instance, info.ro_data_address, 4) == [1, 2, 3, 4]
        write_memory!(instance, info.rw_data_address, UInt8[7, 0, 0, 0])
        call!((_, _) -> nothing, instance, "load", info.rw_data_address; gas = 10_000)
        @test instance[:a0] == 7
        call!((_, _) -> nothing, instance, "store", info.rw_data_address + 4, 99; gas = 10_000)
        @test read_memory!(instance, info.rw_data_address + 4, zeros(UInt8, 1)) == [99]
        unreadable = thrown(() -> read_memory(instance, 0, 4))
        @test unreadable isa PolkaVMError && occursin("0x00000000", unreadable.message)
        @test_throws PolkaVMError write_memory!(instance, info.ro_data_address, UInt8[1])
        reset!(instance)
        @test read_memory(instance, info.rw_data_address, 1) == [0x2a]
        top = sbrk!(instance, 0)
        @test sbrk!(instance, 4096) >= top + 4096
        @test heap_size(instance) >= 4096
    end

    @testset "step tracing" begin
        instance = new_instance(step_tracing = true)
        prepare_call!(instance, "add", 1, 2)
        set_gas!(instance, 10_000)
        steps = 0
        while (result = run!(instance)).status == PolkaVM.Step
            steps += 1
        end
        @test steps >= 2 && instance[:a0] == 3
    end

    @testset "JAM programs with dynamic paging" begin
        code = conformance_program("inst_store_u8")  # u8 [0x20000] = a0, then past the end of the code
        if code === nothing
            @info "skipping the JAM tests: no test vectors at $CONFORMANCE_DIR (set PVM_CONFORMANCE_DIR)"
        else
            engine = Engine(backend = :interpreter, allow_dynamic_paging = true)
            instance = Instance(PolkaVM.jam_module(engine, code))
            instance[:a0] = 0x12345678
            set_next_pc!(instance, 0)
            set_gas!(instance, 10_000)
            @test run!(instance).status == PolkaVM.Fault
            @test fault_address(instance) == 0x20000
            @test graypaper_pc(instance) == 0
            map_pages!(instance, 0x20000, 4096; writable = true)
            set_next_pc!(instance, 0)
            @test run!(instance).status == PolkaVM.Panic
            @test read_memory(instance, 0x20000, 1) == [0x78]
            protect_pages!(instance, 0x20000, 4096; read_only = true)
            @test_throws PolkaVMError write_memory!(instance, 0x20000, UInt8[1])
            set_next_pc!(instance, 0)
            @test run!(instance).status == PolkaVM.Fault
            protect_pages!(instance, 0x20000, 4096; read_only = false)
            write_memory!(instance, 0x20000, UInt8[1])
            free_pages!(instance, 0x20000, 4096)
            @test_throws PolkaVMError read_memory(instance, 0x20000, 1)
            @test_throws PolkaVMError map_pages!(instance, 0x20001, 4096; writable = true)
            @test_throws ArgumentError PolkaVM.jam_module(engine, code; isa = :x86)
            @test_throws ArgumentError PolkaVM.jam_module(engine, code; colour = 3)
            @test_throws PolkaVMError PolkaVM.jam_module(Engine(backend = :interpreter), code)
        end
    end

    @testset "closing and freeing in any order" begin
        for order in ((1, 2, 3), (3, 2, 1), (2, 1, 3))
            engine = Engine(backend = :interpreter)
            program = PolkaVM.Module(engine, PROGRAM)
            instance = Instance(program)
            add_pc = export_pc(program, "add")  # names need the module open; a pc does not
            handles = (engine, program, instance)
            for index in order
                index == 3 || close(handles[index])
                if isopen(instance)
                    @test call!((_, _) -> nothing, instance, add_pc, 20, 22; gas = 10_000).status == PolkaVM.Halt
                    @test instance[:a0] == 42
                end
            end
            close(instance)
            close(instance)
            @test !isopen(instance)
            @test_throws PolkaVMError instance[:a0]
            @test_throws PolkaVMError Instance(program)
        end
        for _ in 1:3
            Instance(PolkaVM.Module(Engine(backend = :interpreter), PROGRAM))
        end
        GC.gc()
        GC.gc()
        @test true
    end
end
