#!/usr/bin/env python3
"""Generates bindings/julia/PolkaVM/src/LibPolkaVM.jl from include/polkavm_ffi.h: every PVM_*
constant, handle type, struct and pvm_* function, with the header's documentation.

    python3 bindings/julia/generate_bindings.py           rewrite LibPolkaVM.jl
    python3 bindings/julia/generate_bindings.py --check   fail if LibPolkaVM.jl's code is stale (warn on docs)

Unknown C types fail loudly: teach TYPE_NAMES about them rather than guessing.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "include" / "polkavm_ffi.h"
RUST_ABI = ROOT / "src" / "c_api"
OUTPUT = ROOT / "bindings" / "julia" / "PolkaVM" / "src" / "LibPolkaVM.jl"

TYPE_NAMES = {
    "void": "Cvoid",
    "char": "Cchar",
    "uint8_t": "UInt8",
    "int32_t": "Int32",
    "uint32_t": "UInt32",
    "int64_t": "Int64",
    "uint64_t": "UInt64",
    "size_t": "Csize_t",
}
# Size and alignment of each Julia type on the 64-bit platforms polkavm supports.
LAYOUTS = {"Cchar": 1, "UInt8": 1, "Int32": 4, "UInt32": 4, "Int64": 8, "UInt64": 8, "Csize_t": 8, "Ptr": 8}
RUST_TO_JULIA = {"u32": "UInt32", "u64": "UInt64", "i32": "Int32", "i64": "Int64"}
JULIA_RESERVED = {
    "baremodule", "begin", "break", "catch", "const", "continue", "do", "else", "elseif", "end", "export",
    "false", "finally", "for", "function", "global", "if", "import", "in", "isa", "let", "local", "macro",
    "module", "mutable", "outer", "primitive", "quote", "return", "struct", "true", "try", "type", "using",
    "where", "while",
}

DOC = r"(?:/\*\*(?P<doc>(?:[^*]|\*(?!/))*)\*/\s*)?"
DEFINE = re.compile(DOC + r"#define (?P<name>PVM_\w+) (?P<value>.+)")
OPAQUE = re.compile(DOC + r"typedef struct (?P<name>\w+) (?P=name);")
HANDLE = re.compile(DOC + r"typedef struct (?P<target>\w+) \*(?P<name>\w+);")
STRUCT = re.compile(DOC + r"typedef struct (?P<name>\w+) \{(?P<body>.*?)\} (?P=name);", re.S)
FUNCTION = re.compile(DOC + r"(?P<ret>[A-Za-z_][\w ]*?[\w*])\s*\b(?P<name>pvm_\w+)\((?P<args>[^)]*)\);")
CONDITION = re.compile(r"#if defined\((?P<macro>\w+)\)(?P<body>.*?)#endif", re.S)
NOT_CONSTANTS = {"PVM_FEATURE_DOOM"}


class GenerationError(Exception):
    pass


def doc_text(raw):
    if not raw:
        return ""
    lines = [re.sub(r"^\s*\*? ?", "", line).rstrip() for line in raw.strip().splitlines()]
    return "\n".join(lines).strip()


def c_type(text, role):
    """Julia type for a C type such as `const struct PvmEngineConfig *`; role is 'arg', 'ret' or 'field'."""
    words = text.replace("*", " * ").split()
    depth = words.count("*")
    base = [word for word in words if word not in ("const", "struct", "*")]
    if len(base) != 1 or depth > 1:
        raise GenerationError(f"unsupported C type `{text}`")
    base = base[0]
    if base in TYPE_NAMES:
        julia = TYPE_NAMES[base]
    elif base.startswith("Pvm"):
        julia = base
    else:
        raise GenerationError(f"unknown C type `{base}` in `{text}`: add it to TYPE_NAMES")
    if depth == 0:
        return julia
    if base.startswith("Pvm") and role == "arg":
        return f"Ref{{{julia}}}"
    return f"Ptr{{{julia}}}"


def parameter(text):
    match = re.fullmatch(r"(?P<type>.*?[\s*])(?P<name>\w+)", text.strip())
    if not match:
        raise GenerationError(f"cannot parse parameter `{text}`")
    name = match["name"] + ("_" if match["name"] in JULIA_RESERVED else "")
    return name, c_type(match["type"], "arg")


def constant_types():
    source = "".join(path.read_text() for path in sorted(RUST_ABI.glob("*.rs")))
    return {name: RUST_TO_JULIA.get(kind, "UInt32") for name, kind in re.findall(r"pub const (PVM_\w+): (\w+)", source)}


def constant_value(text):
    expression = text.strip().replace("UINT32_MAX", str(2**32 - 1))
    if not re.fullmatch(r"[\d\s()+*\-]+", expression):
        raise GenerationError(f"cannot evaluate constant `{text}`")
    return eval(expression)  # digits, spaces, parentheses and + - * only


def parse_header(text):
    conditions = [(m.start(), m.end(), m["macro"]) for m in CONDITION.finditer(text)]

    def condition_at(position):
        return next((macro for start, end, macro in conditions if start <= position < end), None)

    items = []
    for kind, pattern in (("define", DEFINE), ("opaque", OPAQUE), ("handle", HANDLE), ("struct", STRUCT),
                          ("function", FUNCTION)):
        for match in pattern.finditer(text):
            items.append((match.start("name"), kind, match, condition_at(match.start("name"))))
    items.sort(key=lambda item: item[0])
    return [(kind, match, condition) for _, kind, match, condition in items]


def layout(fields, struct_layouts):
    offset, alignment, offsets = 0, 1, []
    for _, julia in fields:
        count, element = 1, julia
        tuple_match = re.fullmatch(r"NTuple\{(\d+),(\w+)\}", julia)
        if tuple_match:
            count, element = int(tuple_match[1]), tuple_match[2]
        if element.startswith("Ptr{"):
            element = "Ptr"
        if element in struct_layouts:
            size, align = struct_layouts[element][0], struct_layouts[element][2]
        elif element in LAYOUTS:
            size = align = LAYOUTS[element]
        else:
            raise GenerationError(f"no layout for field type {julia}")
        offset = (offset + align - 1) // align * align
        offsets.append(offset)
        offset += size * count
        alignment = max(alignment, align)
    return (offset + alignment - 1) // alignment * alignment, tuple(offsets), alignment


def docstring(doc, indent=""):
    if not doc:
        return ""
    escaped = doc.replace("\\", "\\\\").replace("$", "\\$").replace('"""', '\\"""')
    return f'{indent}"""\n{escaped}\n{indent}"""\n'


def generate(header_text):
    constants, types, structs, functions, exports = [], [], [], [], []
    pointer_names, optional = [], []
    struct_layouts = {}
    rust_types = constant_types()
    for kind, match, condition in parse_header(header_text):
        name, doc = match["name"], doc_text(match["doc"])
        note = f"Only in libraries built with `{condition}`.\n\n" if condition else ""
        if kind == "define":
            if name in NOT_CONSTANTS:
                continue
            julia_type = rust_types.get(name, "UInt32")
            value = constant_value(match["value"])
            constants.append(docstring(doc) + f"const {name} = {julia_type}({value})\n")
        elif kind == "opaque":
            continue  # only ever used through its handle type
        elif kind == "handle":
            types.append(docstring(doc or f"Handle to a `{match['target']}`.") + f"const {name} = Ptr{{Cvoid}}\n")
        elif kind == "struct":
            fields = []
            body = re.sub(r"/\*.*?\*/", "", match["body"], flags=re.S)
            for declaration in filter(None, (part.strip() for part in body.split(";"))):
                field = re.fullmatch(r"(?P<type>.+?)\s+(?P<name>\w+)(?:\[(?P<count>\d+)\])?", declaration)
                if not field:
                    raise GenerationError(f"cannot parse field `{declaration}` of {name}")
                julia = c_type(field["type"], "field")
                if field["count"]:
                    julia = f"NTuple{{{field['count']},{julia}}}"
                fields.append((field["name"], julia))
            struct_layouts[name] = layout(fields, struct_layouts)
            lines = "".join(f"    {field}::{julia}\n" for field, julia in fields)
            structs.append(docstring(doc) + f"struct {name}\n{lines}end\n")
        elif kind == "function":
            ret = c_type(match["ret"], "ret")
            args = [] if match["args"].strip() in ("", "void") else [parameter(a) for a in match["args"].split(",")]
            names = ", ".join(arg for arg, _ in args)
            if len(args) == 1:
                arg_types = f"({args[0][1]},)"
            else:
                arg_types = "(" + ", ".join(julia for _, julia in args) + ")"
            call = f"ccall(POINTERS.{name}, {ret}, {arg_types}" + "".join(f", {arg}" for arg, _ in args) + ")"
            if condition:
                # A library built without `condition` lacks the symbol: say so rather than call NULL.
                optional.append(name)
                body = (f"function {name}({names})\n"
                        f"    POINTERS.{name} == C_NULL && missing_feature(:{name}, \"{condition}\")\n"
                        f"    {call}\nend\n")
            else:
                body = f"{name}({names}) = {call}\n"
            functions.append(docstring(note + doc) + body)
            pointer_names.append(name)
        exports.append(name)
    if not functions:
        raise GenerationError("no pvm_* functions found in the header")

    pointer_fields = "".join(f"    {name}::Ptr{{Cvoid}}\n" for name in pointer_names)
    layout_lines = "".join(f"    {name} => ({size}, {offsets!r}),\n" for name, (size, offsets, _) in struct_layouts.items())
    export_lines, line = [], "export"
    for name in exports + ["C_LAYOUTS", "libpolkavm"]:
        if len(line) + len(name) > 96:
            export_lines.append(line + ",")
            line = "      "
        line += f" {name}" if line in ("export", "      ") else f", {name}"
    export_lines = "\n".join(export_lines + [line])
    return f'''# Generated by bindings/julia/generate_bindings.py from include/polkavm_ffi.h: do not edit.
# `make julia-bindings` regenerates it; `make test-julia` fails while it is stale.

"""
Low-level bindings: one `ccall` wrapper per `pvm_*` function of `include/polkavm_ffi.h`, with the
same names, argument order and documentation, plus its constants and structs. Handles are
`Ptr{{Cvoid}}`; structs have the C layout listed in `C_LAYOUTS`. The library is opened, and each
function's address looked up, once when the package loads (`libpolkavm()` says which file).
"""
module LibPolkaVM

using Libdl

include("library.jl")

{export_lines}

{chr(10).join(constants)}
{chr(10).join(types)}
{chr(10).join(structs)}
"""
The C layout of each struct: its size in bytes and the byte offset of each field. Loading the
package fails if Julia lays a struct out differently; tests/julia_abi checks these numbers
against the C compiler.
"""
const C_LAYOUTS = (
{layout_lines})

for (T, (size, offsets)) in C_LAYOUTS
    actual = (sizeof(T), Tuple(Int(fieldoffset(T, i)) for i in 1:fieldcount(T)))
    actual == (size, offsets) || error("$T has layout $actual in Julia, but $((size, offsets)) in C")
end

"""
The address of every `pvm_*` function in the loaded library, resolved once by `__init__` when
the package loads; every wrapper below calls through it.
"""
mutable struct FunctionPointers
{pointer_fields}    FunctionPointers() = new(fill(C_NULL, {len(pointer_names)})...)
end

const POINTERS = FunctionPointers()

"""Functions a library may lack: those the header declares only under a feature macro."""
const OPTIONAL_FUNCTIONS = {julia_tuple(f":{name}" for name in optional)}

function __init__()
    handle, path = open_library()
    for name in fieldnames(FunctionPointers)
        pointer = Libdl.dlsym_e(handle, name)
        pointer == C_NULL && !(name in OPTIONAL_FUNCTIONS) && error("polkavm-ffi: $path has no function $name")
        setfield!(POINTERS, name, pointer)
    end
    LIBRARY_PATH[] = path
    nothing
end

{chr(10).join(functions)}
end # module
'''


def julia_tuple(items):
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def without_docs(text):
    """The code alone: documentation-only header changes are not ABI drift."""
    return re.sub(r'"""\n.*?\n"""\n', "", text, flags=re.S)


def main():
    check = "--check" in sys.argv[1:]
    try:
        generated = generate(HEADER.read_text())
    except GenerationError as error:
        sys.exit(f"generate_bindings.py: {error}")
    current = OUTPUT.read_text() if OUTPUT.exists() else ""
    if check:
        name = OUTPUT.relative_to(ROOT)
        if without_docs(current) != without_docs(generated):
            sys.exit(f"{name} is out of date with include/polkavm_ffi.h: run `make julia-bindings` and commit the result")
        if current != generated:
            print(f"warning: the documentation in {name} is out of date: run `make julia-bindings`")
        else:
            print(f"{name} matches include/polkavm_ffi.h")
    elif current != generated:
        OUTPUT.write_text(generated)
        print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
