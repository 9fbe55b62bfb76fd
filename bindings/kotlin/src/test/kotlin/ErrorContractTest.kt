// The error contract (tests/error_contract.json; format in docs/design.md, "Error contract") through
// the Kotlin bindings, face "kotlin": every case throws the PvmException variant and message of the file.

import io.polkavm.ffi.*
import java.io.File
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.*
import org.junit.jupiter.api.Test
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource

class ErrorContractTest {
    class Fixture {
        val blob = assemble(File(System.getProperty("pvm.test.program")).readText())
        val engine = interpreter()
        val module = Module(engine, blob)
        val instance = Instance(module)
    }

    companion object {
        const val FACE = "kotlin"

        fun interpreter(allowDynamicPaging: Boolean = false) =
            Engine(EngineConfig(backend = Backend.INTERPRETER, allowDynamicPaging = allowDynamicPaging))

        /** The cases of the file for this face: those without only_in, or whose only_in lists "kotlin". */
        val cases: Map<String, JsonObject> by lazy {
            val contract = Json.parseToJsonElement(File(System.getProperty("pvm.error.contract")).readText()).jsonObject
            contract.getValue("cases").jsonObject
                .mapValues { it.value.jsonObject }
                .filterValues { case -> case["only_in"]?.jsonArray?.any { it.jsonPrimitive.content == FACE } ?: true }
        }

        @JvmStatic
        fun caseNames() = cases.keys.sorted()

        /** The face's code for each case of the file, by the case's name. */
        val runners: Map<String, (Fixture) -> Unit> = mapOf(
            "run_without_call" to { f -> f.instance.run() },
            "bad_blob" to { f -> Module(f.engine, "NOT A PROGRAM".toByteArray()) },
            "empty_blob" to { f -> Module(f.engine, byteArrayOf()) },
            "no_such_export" to { f -> f.module.exportPc("missing") },
            "too_many_arguments" to { f -> f.instance.prepareCallExport("add", List(10) { 0UL }) },
            "bad_page_size" to { f -> Module(f.engine, f.blob, ModuleConfig(pageSize = 1000u)) },
            "unmapped_memory" to { f -> f.instance.readMemory(0u, 4u) },
            "dynamic_paging_not_allowed" to { f -> Module(f.engine, f.blob, ModuleConfig(dynamicPaging = true)) },
            "heap_size_under_dynamic_paging" to { f ->
                Instance(Module(interpreter(allowDynamicPaging = true), f.blob, ModuleConfig(dynamicPaging = true))).heapSize()
            },
            "map_pages_without_dynamic_paging" to { f -> f.instance.mapPages(0x10000u, 4096u, true) },
            "handler_failure" to { f ->
                val boom = object : HostHandler {
                    override fun onHostCall(number: UInt, instance: Instance): ULong? = throw HostException.Abort("boom")
                }
                f.instance.call("host", listOf(1UL), boom, 10_000L)
            },
        )
    }

    @Test
    fun `the face runs every case of the file and no other`() {
        assertEquals(cases.keys.sorted(), runners.keys.sorted())
    }

    @ParameterizedTest
    @MethodSource("caseNames")
    fun `each case throws the kind and message of the file`(name: String) {
        val expected = cases.getValue(name)
        val runner = runners[name] ?: fail("the Kotlin face does not run case $name")
        val error = assertThrows(PvmException::class.java) { runner(Fixture()) }
        assertEquals(expected.getValue("kind").jsonPrimitive.content, error::class.simpleName)
        assertEquals(expected.getValue("message").jsonPrimitive.content, error.message)
    }
}
