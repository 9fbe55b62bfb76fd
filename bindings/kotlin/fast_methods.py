#!/usr/bin/env python3
"""Points the generated Kotlin `Instance`'s hot methods (reg, setReg, gas, setGas, run, prepareCall,
call) at the fast path (src/main/kotlin/io/polkavm/ffi/FastPath.kt), run by Maven right after
uniffi-bindgen:

    fast_methods.py GENERATED_KOTLIN_FILE

Kotlin cannot replace a class's methods from outside it, and `Instance(module)` must stay the one
class users have, so this edits the generated class: each generated method becomes an internal
`uniffi<Name>` (what the tests compare the fast path with), and an override with the public name
calls FastPath with the handle the object holds, kept alive as the generated methods keep it
(`callWithHandle`, without its handle clone). The overrides inherit their documentation from
`InstanceInterface`. The constructor and the free go through FastPath too (the constructor with
the Module's handle borrowed the same way). Fails if the generated code no longer has the shape
this expects.
"""

import re
import sys

HOT_METHODS = ("call", "gas", "prepareCall", "reg", "run", "setGas", "setReg")

FAST_OVERRIDES = """
    // polkavm-ffi (bindings/kotlin/fast_methods.py): the hot methods go through FastPath.
    override fun `reg`(`reg`: Reg): kotlin.ULong = callWithBorrowedHandle { FastPath.reg(it, `reg`) }
    override fun `setReg`(`reg`: Reg, `value`: kotlin.ULong) = callWithBorrowedHandle { FastPath.setReg(it, `reg`, `value`) }
    override fun `gas`(): kotlin.Long = callWithBorrowedHandle { FastPath.gas(it) }
    override fun `setGas`(`gas`: kotlin.Long) = callWithBorrowedHandle { FastPath.setGas(it, `gas`) }
    @Throws(PvmException::class)
    override fun `run`(): RunResult = callWithBorrowedHandle { FastPath.run(it) }
    @Throws(PvmException::class)
    override fun `prepareCall`(`pc`: kotlin.UInt, `args`: List<kotlin.ULong>) =
        callWithBorrowedHandle { FastPath.prepareCall(it, `pc`, `args`) }
    @Throws(PvmException::class)
    override fun `call`(`name`: kotlin.String, `args`: List<kotlin.ULong>, `handler`: HostHandler, `gas`: kotlin.Long?): RunOutcome =
        callWithBorrowedHandle { FastPath.call(this, it, `name`, `args`, `handler`, `gas`) }

"""


CONSTRUCTOR = """
    constructor(`module`: Module) :
        this(UniffiWithHandle, FastPath.newInstance(`module`))
"""

FREE = """            uniffiRustCall { status ->
                UniffiLib.uniffi_polkavm_ffi_fn_free_instance(handle, status)
            }
"""


def fail(message):
    sys.exit(f"fast_methods.py: {message}: the generated Kotlin has changed shape (see bindings/kotlin/fast_methods.py)")


def class_body(source, name):
    """The span of the generated `open class NAME`, up to its FfiConverter."""
    start = source.find(f"\nopen class {name}:")
    end = source.find(f"\npublic object FfiConverterType{name}", start)
    if start < 0 or end < 0:
        fail(f"no `open class {name}` followed by FfiConverterType{name}")
    return start, end


def with_borrowed_handle(body, name, extra=""):
    """Adds `callWithBorrowedHandle` after the class's `callWithHandle`: the same, with the object's
    own handle instead of a clone (which a UniFFI method consumes); then `extra`."""
    call_with_handle = re.search(r"\n    internal inline fun <R> callWithHandle\(.*?\n    }\n", body, re.S)
    if call_with_handle is None or "block(this.uniffiCloneHandle())" not in call_with_handle.group(0):
        fail(f"no callWithHandle calling block(this.uniffiCloneHandle()) in {name}")
    borrowed = (call_with_handle.group(0)
                .replace("internal inline fun <R> callWithHandle(", "internal inline fun <R> callWithBorrowedHandle(")
                .replace("block(this.uniffiCloneHandle())", "block(this.handle)"))
    return body.replace(call_with_handle.group(0), call_with_handle.group(0) + borrowed + extra, 1)


def replace_once(body, old, new, what):
    if body.count(old) != 1:
        fail(f"{what} appears {body.count(old)} times in Instance")
    return body.replace(old, new)


def patch(source):
    start, end = class_body(source, "Instance")
    body = source[start:end]
    if "callWithBorrowedHandle" in body:
        fail("already patched")
    for name in HOT_METHODS:
        declaration = f"override fun `{name}`("
        body = replace_once(body, declaration, f"internal fun `uniffi{name[0].upper()}{name[1:]}`(", declaration)
    # The constructor and the free, without UniFFI's call status and handle clone.
    constructor = re.search(r"\n    constructor\(`module`: Module\) :\n.*?\n    \)\n", body, re.S)
    if constructor is None or "uniffi_polkavm_ffi_fn_constructor_instance_new" not in constructor.group(0):
        fail("no constructor(`module`: Module) calling uniffi_polkavm_ffi_fn_constructor_instance_new")
    body = body.replace(constructor.group(0), CONSTRUCTOR, 1)
    body = replace_once(body, FREE, "            FastPath.freeInstance(handle)\n", "UniFFI's free_instance call")
    body = with_borrowed_handle(body, "Instance", FAST_OVERRIDES)
    source = source[:start] + body + source[end:]
    start, end = class_body(source, "Module")
    return source[:start] + with_borrowed_handle(source[start:end], "Module") + source[end:]


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as file:
        source = file.read()
    with open(path, "w", encoding="utf-8") as file:
        file.write(patch(source))


if __name__ == "__main__":
    main()
