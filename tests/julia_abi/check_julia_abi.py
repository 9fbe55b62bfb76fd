#!/usr/bin/env python3
"""Proves, without Julia, every assumption the Julia package makes about the C ABI:

1. LibPolkaVM.jl is what bindings/julia/generate_bindings.py makes from the current header.
2. Its `ccall` wrappers cover exactly the pvm_* symbols the built library exports.
3. A C++ compiler, reading the real header, agrees with every Julia declaration: each wrapper's
   return and argument types, each mirrored struct's size, field offsets and field types (the
   numbers are read out of the Julia source's C_LAYOUTS), and each PVM_* constant's value.
4. The call sequences of the high-level layer (PolkaVM.jl), mirrored in high_level_sequences.c,
   run correctly against the library, and the mirror makes the same calls in the same order as
   the Julia code, for every high-level function that calls into the library.

Usage: check_julia_abi.py LIBRARY.so PROGRAM.polkavm BUILD_DIR
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
JULIA_SRC = ROOT / "bindings" / "julia" / "PolkaVM" / "src"
LOW_LEVEL = JULIA_SRC / "LibPolkaVM.jl"
HIGH_LEVEL = JULIA_SRC / "PolkaVM.jl"
MIRROR = HERE / "high_level_sequences.c"
EXAMPLES = sorted((ROOT / "examples" / "julia").glob("*.jl"))

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
    pattern = r"ccall\(\(:(?P<name>\w+), (?:libpolkavm\(\)|LIB)\), (?P<ret>\w+(?:\{[^{}]*\})?),\s+\((?P<args>[^()]*)\)"
    for match in re.finditer(pattern, text):
        args = [arg.strip() for arg in match["args"].split(",") if arg.strip()]
        ccalls.append((match["name"], match["ret"], args))
    if len(ccalls) != text.count("ccall((:"):
        fail(f"{text.count('ccall((:') - len(ccalls)} ccall(s) in a Julia file are not in the form this check reads")
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


def example_checks(path, handles, layouts):
    """A hand-written Julia file's ccalls and structs (mirroring C structs) against the header."""
    ccalls, structs, _, _, _ = julia_declarations(path.read_text())
    lines = signature_checks(ccalls, handles, structs, path.name)
    for name, fields in structs.items():
        if name not in layouts:
            fail(f"{path.name}: struct {name} mirrors no C struct")
            continue
        where = f"{path.name}: {name}"
        lines.append(f"static_assert(sizeof({name}) == {layouts[name][0]}, \"{where} has a different size in C\");")
        for index, (field, julia) in enumerate(fields):
            lines.append(f"static_assert(std::is_same_v<decltype({name}::{field}), {cpp_type(julia, handles, structs)}>, "
                         f"\"{where}.{field} is not a {julia}\");")
            if index > 0:
                lines.append(f"static_assert(offsetof({name}, {fields[index - 1][0]}) < offsetof({name}, {field}), "
                             f"\"{where} declares its fields in another order than C\");")
    return lines, len(ccalls)


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


# ---------------------------------------------------------------------------------------------
# The high-level layer's call sequences


def julia_definitions(text):
    """(first line, body) of every top-level definition; bodies of `function` blocks end at `end`."""
    lines = text.splitlines()
    definitions = []
    for index, line in enumerate(lines):
        if line.startswith("function "):
            end = next(i for i in range(index + 1, len(lines)) if lines[i] == "end")
            definitions.append((line, "\n".join(lines[index + 1:end])))
        elif re.match(r"^[\w.!]+\(.*\)(?: where \{.*\})? =", line):
            body = [line.split("=", 1)[1] if line.rstrip().endswith("=") else line[line.index(") =") + 3:]]
            for following in lines[index + 1:]:
                if not following.startswith(" ") or not following.strip():
                    break
                body.append(following)
            definitions.append((line, "\n".join(body)))
    return definitions


def julia_name(first_line):
    return re.match(r"^(?:function )?(?:Base\.)?([\w!]+)", first_line)[1]


def c_mirrors(text):
    mirrors = []
    for match in re.finditer(r"/\* julia: (?P<prefix>.+?) \*/\nstatic [^(]*?\b(?P<name>jl_\w+)\(", text):
        start = text.index("{", match.end())
        depth, position = 0, start
        while True:
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                break
            position += 1
        mirrors.append((match["prefix"], match["name"], text[start:position]))
    return mirrors


def call_tokens(body, names, pattern_prefix):
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.findall(pattern_prefix + r"(" + alternatives + r")\(", body)


def check_sequences(pvm_functions):
    definitions = julia_definitions(HIGH_LEVEL.read_text())
    mirrors = c_mirrors(MIRROR.read_text())
    c_to_julia = {c_name: julia_name(prefix) for prefix, c_name, _ in mirrors}
    # Calls to a type name are the inner constructors that only attach finalizers: not C ABI sequences.
    mirrored_julia = {name for name in c_to_julia.values() if not name[0].isupper()}
    matched = set()
    for prefix, c_name, c_body in mirrors:
        candidates = [(line, body) for line, body in definitions if line.startswith(prefix)]
        if len(candidates) != 1:
            fail(f"{MIRROR.name}: `{prefix}` matches {len(candidates)} definitions in PolkaVM.jl (expected 1)")
            continue
        line, julia_body = candidates[0]
        matched.add(line)
        self_name = julia_name(line)
        julia_calls = [name for name in call_tokens(julia_body, (pvm_functions | mirrored_julia) - {self_name}, r"(?<![\w.!])")]
        c_calls = [c_to_julia.get(name, name)
                   for name in call_tokens(c_body, pvm_functions | set(c_to_julia), r"(?<![\w.>])")]
        c_calls = [name for name in c_calls if name in pvm_functions or name in mirrored_julia]
        c_calls = [name for name in c_calls if name != self_name]
        if julia_calls != c_calls:
            fail(f"`{prefix}`: PolkaVM.jl calls {julia_calls}, but its mirror {c_name} calls {c_calls}")
    for line, body in definitions:
        if line not in matched and call_tokens(body, pvm_functions, r"(?<![\w.!])"):
            fail(f"PolkaVM.jl `{line}` calls the C ABI but has no mirror in {MIRROR.name}")
    return len(mirrors)


def conformance_program(name, build_dir):
    """A JAM test vector's program blob (tests/vectors/jam-pvm-v0.4), written to a file."""
    vector = ROOT / "tests" / "vectors" / "jam-pvm-v0.4" / "programs" / f"{name}.json"
    if not vector.is_file():
        fail(f"no test vector {vector}")
        return None
    path = build_dir / f"{name}.jam"
    path.write_bytes(bytes(json.loads(vector.read_text())["program"]))
    return path


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    library, program, build_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    build_dir.mkdir(parents=True, exist_ok=True)

    print(run([sys.executable, ROOT / "bindings" / "julia" / "generate_bindings.py", "--check"]).stdout, end="")

    ccall_list, structs, layouts, constants, handles = julia_declarations(LOW_LEVEL.read_text())
    ccalls = {name: (ret, args) for name, ret, args in ccall_list}
    exported = set(re.findall(r"\b(pvm_\w+)$", run(["nm", "-D", "--defined-only", library]).stdout, re.M))
    for name in sorted(exported - set(ccalls)):
        fail(f"{library.name} exports {name}, which LibPolkaVM.jl does not wrap")
    # Functions the header declares only under a feature macro may be missing from a library built without it.
    optional = set(re.findall(r"Only in libraries built with `\w+`\.\n(?:.*\n)*?\"\"\"\n(pvm_\w+)\(",
                              LOW_LEVEL.read_text()))
    for name in sorted(set(ccalls) - exported - optional):
        fail(f"LibPolkaVM.jl wraps {name}, which {library.name} does not export")
    for name in sorted((set(ccalls) - exported) & optional):
        print(f"{library.name} was built without the feature {name} needs: not checked against the library")

    cxx = os.environ.get("CXX", "c++")
    checks = build_dir / "julia_declarations_check.cpp"
    source = compiler_checks(ccall_list, structs, layouts, constants, handles)
    example_calls = 0
    for example in EXAMPLES:
        lines, count = example_checks(example, handles, layouts)
        source += "\n".join(lines) + "\n"
        example_calls += count
    checks.write_text(source)
    run([cxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'include'}", checks])

    cc = os.environ.get("CC", "cc")
    mirror = build_dir / "high_level_sequences"
    built = run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{ROOT / 'include'}", MIRROR,
                 f"-L{library.parent}", "-lpolkavm_ffi", f"-Wl,-rpath,{library.parent.resolve()}", "-o", mirror])
    if built.returncode == 0:
        env = dict(os.environ)
        jam_program = conformance_program("inst_store_u8", build_dir)
        if jam_program:
            env["PVM_JAM_PROGRAM"] = str(jam_program)
        print(run([mirror, program], env=env).stdout, end="")
        # Freeing in every order, under valgrind too (the interpreter: valgrind cannot run the JIT's sandbox).
        if shutil.which("valgrind"):
            run(["valgrind", "--quiet", "--error-exitcode=1", "--leak-check=full",
                 "--errors-for-leak-kinds=definite,indirect,possible", mirror, program, "interpreter"], env=env)
            print("Julia high-level call sequences: valgrind found no memory errors or leaks")
        else:
            print("Julia high-level call sequences: valgrind not found, memory check skipped")

    mirrored = check_sequences(set(ccalls))
    if failures:
        sys.exit(f"{len(failures)} Julia ABI check(s) failed")
    print(f"Julia ABI: {len(ccalls)} ccall declarations, {len(structs)} struct layouts and {len(constants)} constants "
          f"match the header and library; {mirrored} high-level call sequences match their C mirrors; "
          f"{example_calls} ccalls in examples/julia match the header")


if __name__ == "__main__":
    main()
