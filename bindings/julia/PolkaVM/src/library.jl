# Which native library the package uses: chosen and opened once, when the package loads.

"""Environment variable naming the native library file to use."""
const LIBRARY_ENV = "POLKAVM_FFI_LIB"
const LIBRARY_NAME = "libpolkavm_ffi"
const LIBRARY_FILE = "$LIBRARY_NAME.$(Libdl.dlext)"
# This repository's build outputs (the package lives in bindings/julia/PolkaVM): `make build`,
# then `make portable-lib` (built against glibc 2.17, for Linux distributions older than ours).
const TARGET = normpath(joinpath(@__DIR__, "..", "..", "..", "..", "target"))
const BUILD_OUTPUTS = [joinpath(TARGET, "release", LIBRARY_FILE),
                       joinpath(TARGET, "portable", "$(Sys.ARCH)-unknown-linux-gnu", "release", LIBRARY_FILE)]
const LIBRARY_PATH = Ref("")

"""
    libpolkavm() -> String

Path of the native library the package loaded: `ENV["POLKAVM_FFI_LIB"]` if set; else the first of
the repository's `target/release` and `target/portable/<arch>-unknown-linux-gnu/release` builds
that loads on this system; else `libpolkavm_ffi` from the system library path (`make install`).
"""
libpolkavm() = LIBRARY_PATH[]

"""
    open_library(env_path = ENV["POLKAVM_FFI_LIB"], build_outputs = BUILD_OUTPUTS) -> (handle, path)

Opens the native library by the lookup order of `libpolkavm` and checks its C ABI version. Throws
an error naming everything it tried, and why each failed, if none loads.
"""
function open_library(env_path::AbstractString = get(ENV, LIBRARY_ENV, ""), build_outputs = BUILD_OUTPUTS)
    if !isempty(env_path)
        isfile(env_path) || error("polkavm-ffi: \$$LIBRARY_ENV is set to \"$env_path\", which does not exist")
        handle = try_open(env_path)
        handle isa String && error("polkavm-ffi: \$$LIBRARY_ENV is set to \"$env_path\", which does not load: $handle")
        return checked(handle, String(env_path))
    end
    tried = ["\$$LIBRARY_ENV (not set)"]
    for path in build_outputs
        if !isfile(path)
            push!(tried, "$path (not built)")
            continue
        end
        handle = try_open(path)
        handle isa String || return checked(handle, path)
        push!(tried, "$path (does not load: $handle)")
    end
    handle = try_open(LIBRARY_NAME)
    handle isa String || return checked(handle, Libdl.dlpath(handle))
    push!(tried, "$LIBRARY_NAME on the system library path (not installed: `make install PREFIX=...`)")
    error("polkavm-ffi: cannot load the native library (build it with `make build`, or `make portable-lib` " *
          "for an older Linux). Tried:\n  " * join(tried, "\n  "))
end

# The library's handle, or why it does not load.
function try_open(path::AbstractString)
    try
        Libdl.dlopen(path)
    catch exception
        exception isa ErrorException ? exception.msg : sprint(showerror, exception)
    end
end

function checked(handle::Ptr{Cvoid}, path::String)
    version = ccall(Libdl.dlsym(handle, :pvm_abi_version), UInt32, ())
    version >= PVM_ABI_VERSION ||
        error("polkavm-ffi: $path has C ABI version $version; these bindings need $PVM_ABI_VERSION or newer")
    handle, path
end

missing_feature(name::Symbol, feature::AbstractString) =
    error("polkavm-ffi: $(libpolkavm()) was built without $feature, which $name needs")
