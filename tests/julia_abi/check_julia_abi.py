#!/usr/bin/env python3
"""Checks the Julia package's declarations against the C ABI, where a run on Julia cannot (a
wrong signedness or width in a `ccall` still runs): `make test-julia` runs this, then the
package's tests on a real Julia.

1. LibPolkaVM.jl is what bindings/julia/generate_bindings.py makes from the current header.
2. Its `ccall` wrappers cover exactly the pvm_* symbols the built library exports.
3. A C++ compiler, reading the real header, agrees with every Julia declaration: each wrapper's
   return and argument types, each mirrored struct's size, field offsets and field types (the
   numbers are read out of the Julia source's C_LAYOUTS), and each PVM_* constant's value.

Usage: check_julia_abi.py LIBRARY.so BUILD_DIR
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOW_LEVEL = ROOT / "bindings" / "julia" / "PolkaVM" / "src" / "LibPolkaVM.jl"

JULIA_TO_CPP = {
    "Cvoid": "void", "Cchar": "char", "UInt8": "uint8_t", "Int32": "int32_t", "UInt32": "uint32_t",
    "Int64": "int64_t", "UInt64": "uint64_t", "Csize_t": "size_t",
}

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL: {message}", file=sys.stderr)


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        fail(f"`{' '.join(map(str, command))}` failed:\n{result.stdout}{result.stderr}")
    return result


# ---------------------------------------------------------------------------------------------
# The Julia source, as declarations


def julia_declarations(text):
    ccalls = []
    pattern = r"ccall\(POINTERS\.(?P<name>\w+), (?P<ret>\w+(?:\{[^{}]*\})?),\s+\((?P<args>[^()]*)\)"
    for match in re.finditer(pattern, text):
        args = [arg.strip() for arg in match["args"].split(",") if arg.strip()]
        ccalls.append((match["name"], match["ret"], args))
    if len(ccalls) != text.count("ccall(POINTERS."):
        fail(f"{text.count('ccall(POINTERS.') - len(ccalls)} ccall(s) in LibPolkaVM.jl are not in the form this check reads")
    structs = {
        match[1]: re.findall(r"^    (\w+)::(\S+)(?:\s+#.*)?$", match[2], re.M)
        for match in re.finditer(r"^struct (\w+)\n((?:    \w+::\S+(?:\s+#.*)?\n)+)end$", text, re.M)
    }
    layouts = {
        match[1]: (int(match[2]), [int(offset) for offset in match[3].replace(",", " ").split()])
        for match in re.finditer(r"^    (\w+) => \((\d+), \(([\d, ]*)\)\),$", text, re.M)
    }
    constants = dict(re.findall(r"^const (PVM_\w+) = \w+\((\d+)\)$", text, re.M))
    handles = re.findall(r"^const (Pvm\w+) = Ptr\{Cvoid\}$", text, re.M)
    return ccalls, structs, layouts, constants, handles


def cpp_type(julia, handles, structs):
    pointer = re.fullmatch(r"(?:Ptr|Ref)\{(.+)\}", julia)
    if pointer:
        return cpp_type(pointer[1], handles, structs) + " *"
    tuple_type = re.fullmatch(r"NTuple\{(\d+),(\w+)\}", julia)
    if tuple_type:
        return f"{cpp_type(tuple_type[2], handles, structs)}[{tuple_type[1]}]"
    if julia in JULIA_TO_CPP:
        return JULIA_TO_CPP[julia]
    if julia in handles:
        return "void *"
    if julia in structs:
        return julia
    raise ValueError(f"no C++ equivalent for Julia type {julia}")


def signature_checks(ccalls, handles, structs, source):
    lines = []
    for name, ret, args in ccalls:
        try:
            types = [cpp_type(ret, handles, structs)] + [cpp_type(arg, handles, structs) for arg in args]
        except ValueError as error:
            fail(f"{source}: {name}: {error}")
            continue
        julia = f"{ret} ({', '.join(args)})"
        lines.append(f"static_assert(declared_as<decltype(&{name}), {', '.join(types)}>(), "
                     f"\"{source}: {name}: the header disagrees with the Julia declaration {julia}\");")
    return lines


def compiler_checks(ccalls, structs, layouts, constants, handles):
    lines = [
        '#include "polkavm_ffi.h"',
        "#include <cstddef>",
        "#include <cstdint>",
        "#include <tuple>",
        "#include <type_traits>",
        "template <class F> struct Signature;",
        "template <class R, class... A> struct Signature<R (*)(A...)> { using Ret = R; using Args = std::tuple<A...>; };",
        "// Julia has no const: compare pointers without their pointee's qualifiers.",
        "template <class T> struct Bare { using type = T; };",
        "// Julia passes handles as Ptr{Cvoid}: a pointer to an opaque (incomplete) type compares as void *.",
        "template <class T, class = void> struct Complete : std::false_type {};",
        "template <class T> struct Complete<T, std::void_t<decltype(sizeof(T))>> : std::true_type {};",
        "template <class T> struct Bare<T *> {",
        "    using type = std::conditional_t<Complete<std::remove_cv_t<T>>::value, std::remove_cv_t<T> *, void *>;",
        "};",
        "template <class... A> struct Bare<std::tuple<A...>> { using type = std::tuple<typename Bare<A>::type...>; };",
        "template <class F, class R, class... A> constexpr bool declared_as() {",
        "    return std::is_same_v<typename Bare<typename Signature<F>::Ret>::type, R> &&",
        "           std::is_same_v<typename Bare<typename Signature<F>::Args>::type, std::tuple<A...>>;",
        "}",
    ]
    for handle in handles:
        lines.append(f"static_assert(std::is_pointer_v<{handle}>, \"Julia passes {handle} as Ptr{{Cvoid}}\");")
    lines += signature_checks(ccalls, handles, structs, "LibPolkaVM.jl")
    for name, fields in structs.items():
        if name not in layouts:
            fail(f"struct {name} has no entry in C_LAYOUTS")
            continue
        size, offsets = layouts[name]
        if len(offsets) != len(fields):
            fail(f"C_LAYOUTS gives {len(offsets)} offsets for the {len(fields)} fields of {name}")
            continue
        lines.append(f"static_assert(sizeof({name}) == {size}, \"sizeof({name}) is not the Julia C_LAYOUTS size {size}\");")
        for (field, julia), offset in zip(fields, offsets):
            lines.append(f"static_assert(offsetof({name}, {field}) == {offset}, \"{name}.{field} is not at offset {offset}\");")
            lines.append(f"static_assert(std::is_same_v<decltype({name}::{field}), {cpp_type(julia, handles, structs)}>, "
                         f"\"{name}.{field} is not a {julia}\");")
    for name, value in constants.items():
        lines.append(f"static_assert({name} == {value}u, \"{name} is not {value} as in Julia\");")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    library, build_dir = Path(sys.argv[1]), Path(sys.argv[2])
    build_dir.mkdir(parents=True, exist_ok=True)

    print(run([sys.executable, ROOT / "bindings" / "julia" / "generate_bindings.py", "--check"]).stdout, end="")

    ccall_list, structs, layouts, constants, handles = julia_declarations(LOW_LEVEL.read_text())
    ccalls = {name: (ret, args) for name, ret, args in ccall_list}
    # pvm_uniffi_*: the Python package's fast path into the UniFFI objects, not part of the C ABI.
    exported = set(re.findall(r"\b(pvm_(?!uniffi_)\w+)$", run(["nm", "-D", "--defined-only", library]).stdout, re.M))
    for name in sorted(exported - set(ccalls)):
        fail(f"{library.name} exports {name}, which LibPolkaVM.jl does not wrap")
    # Functions the header declares only under a feature macro may be missing from a library built without it.
    optional = set(re.findall(r"Only in libraries built with `\w+`\.\n(?:.*\n)*?\"\"\"\n(?:function )?(pvm_\w+)\(",
                              LOW_LEVEL.read_text()))
    for name in sorted(set(ccalls) - exported - optional):
        fail(f"LibPolkaVM.jl wraps {name}, which {library.name} does not export")
    for name in sorted((set(ccalls) - exported) & optional):
        print(f"{library.name} was built without the feature {name} needs: not checked against the library")

    cxx = os.environ.get("CXX", "c++")
    checks = build_dir / "julia_declarations_check.cpp"
    checks.write_text(compiler_checks(ccall_list, structs, layouts, constants, handles))
    run([cxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'include'}", checks])

    if failures:
        sys.exit(f"{len(failures)} Julia ABI check(s) failed")
    print(f"Julia ABI: {len(ccalls)} ccall declarations, {len(structs)} struct layouts and {len(constants)} constants "
          f"match the header and library")


if __name__ == "__main__":
    main()
