# Where the native library is: found on first use, then fixed for the session.

using Libdl

"""Environment variable naming the native library file to use."""
const LIBRARY_ENV = "POLKAVM_FFI_LIB"
const LIBRARY_NAME = "libpolkavm_ffi"
# The repository's `cargo build --release` output (this package lives in bindings/julia/PolkaVM).
const BUILD_OUTPUT = normpath(joinpath(@__DIR__, "..", "..", "..", "..", "target", "release",
                                       "$LIBRARY_NAME.$(Libdl.dlext)"))
const LIBRARY_PATH = Ref("")

"""
    libpolkavm() -> String

Path of the native library every `ccall` here uses: `ENV["POLKAVM_FFI_LIB"]` if set, else the
repository's build output (`target/release`), else `libpolkavm_ffi` from the system library path
(`make install`). Throws an error naming everything it tried if none loads.
"""
function libpolkavm()
    isempty(LIBRARY_PATH[]) || return LIBRARY_PATH[]
    path = locate_library(get(ENV, LIBRARY_ENV, ""), BUILD_OUTPUT)
    check_abi_version(path)
    LIBRARY_PATH[] = path
end

function locate_library(env_path::AbstractString, build_output::AbstractString)
    if !isempty(env_path)
        isfile(env_path) && return String(env_path)
        error("polkavm-ffi: \$$LIBRARY_ENV is set to \"$env_path\", which does not exist")
    end
    isfile(build_output) && return build_output
    system = Libdl.find_library(LIBRARY_NAME)
    isempty(system) || return system
    tried = ["\$$LIBRARY_ENV (not set)",
             "$build_output (not built: run `make build` at the repository root)",
             "$LIBRARY_NAME on the system library path (not installed: `make install PREFIX=...`)"]
    error("polkavm-ffi: cannot find the native library. Tried:\n  " * join(tried, "\n  "))
end

function check_abi_version(path::AbstractString)
    handle = Libdl.dlopen(path)
    version = ccall(Libdl.dlsym(handle, :pvm_abi_version), UInt32, ())
    version >= PVM_ABI_VERSION ||
        error("polkavm-ffi: $path has C ABI version $version; these bindings need $PVM_ABI_VERSION or newer")
    nothing
end
