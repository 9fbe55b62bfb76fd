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
`InstanceInterface`. Fails if the generated code no longer has the shape this expects.
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


def fail(message):
    sys.exit(f"fast_methods.py: {message}: the generated Kotlin has changed shape (see bindings/kotlin/fast_methods.py)")


def patch(source):
    start = source.find("\nopen class Instance:")
    end = source.find("\npublic object FfiConverterTypeInstance", start)
    if start < 0 or end < 0:
        fail("no `open class Instance` followed by FfiConverterTypeInstance")
    body = source[start:end]
    if "callWithBorrowedHandle" in body:
        fail("already patched")
    for name in HOT_METHODS:
        declaration = f"override fun `{name}`("
        if body.count(declaration) != 1:
            fail(f"{declaration} appears {body.count(declaration)} times in Instance")
        body = body.replace(declaration, f"internal fun `uniffi{name[0].upper()}{name[1:]}`(")
    # callWithHandle, taking the object's own handle instead of a clone (which a UniFFI method consumes).
    call_with_handle = re.search(r"\n    internal inline fun <R> callWithHandle\(.*?\n    }\n", body, re.S)
    if call_with_handle is None or "block(this.uniffiCloneHandle())" not in call_with_handle.group(0):
        fail("no callWithHandle calling block(this.uniffiCloneHandle())")
    borrowed = (call_with_handle.group(0)
                .replace("internal inline fun <R> callWithHandle(", "private inline fun <R> callWithBorrowedHandle(")
                .replace("block(this.uniffiCloneHandle())", "block(this.handle)"))
    body = body.replace(call_with_handle.group(0), call_with_handle.group(0) + borrowed + FAST_OVERRIDES, 1)
    return source[:start] + body + source[end:]


def main():
    path = sys.argv[1]
    with open(path, encoding="utf-8") as file:
        source = file.read()
    with open(path, "w", encoding="utf-8") as file:
        file.write(patch(source))


if __name__ == "__main__":
    main()
