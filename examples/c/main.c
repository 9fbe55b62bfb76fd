/* Runs the embedded sample program through the pvm_* C ABI on both backends, serving its host
 * calls. Build: `make -C examples/c run` (sample_program.h is generated from
 * examples/sample_program.pvmasm by pvm-assemble). */
#include "polkavm_ffi.h"
#include "sample_program.h"

#include <stdio.h>
#include <string.h>

static int run_sample(PvmEngine engine, const char *backend_name, uint64_t n) {
    PvmModule module = pvm_module_new(engine, sample_program, sizeof sample_program);
    if (!module) {
        fprintf(stderr, "loading the sample program failed: %s\n", pvm_last_error());
        return 1;
    }
    PvmInstance instance = pvm_instance_new(engine, module);
    if (!instance) {
        fprintf(stderr, "instantiating failed: %s\n", pvm_last_error());
        pvm_module_free(module);
        return 1;
    }

    const char *name = "sum_of_squares";
    int32_t export_index = pvm_module_find_export(module, (const uint8_t *)name, strlen(name));
    pvm_instance_prepare_call_args(instance, pvm_module_export_pc(module, (uint32_t)export_index), &n, 1);
    pvm_instance_set_gas(instance, 100000);

    PvmResult result;
    uint64_t reports = 0;
    while ((result = pvm_instance_run(instance)).status == PVM_STATUS_HOST) {
        if (result.host_call == 1) { /* report(i, total): reply with a bonus of 1 per report */
            reports++;
            pvm_instance_set_reg(instance, PVM_REG_A2, 1);
        }
    }

    int failed = result.status != PVM_STATUS_HALT;
    if (failed) {
        fprintf(stderr, "[%s] stopped with status %u: %s\n", backend_name, result.status, pvm_last_error());
    } else {
        printf("[%s] sum_of_squares(%llu) = %llu after %llu host calls, %lld gas left\n", backend_name,
               (unsigned long long)n, (unsigned long long)pvm_instance_get_reg(instance, PVM_REG_A0),
               (unsigned long long)reports, (long long)result.gas_remaining);
    }
    pvm_instance_free(instance);
    pvm_module_free(module);
    return failed;
}

int main(void) {
    printf("%s\n", pvm_version());
    PvmEngine interpreter = pvm_engine_new_interpreter();
    PvmEngine jit = pvm_engine_new();
    int failed = 0;
    failed |= interpreter ? run_sample(interpreter, "interpreter", 10) : 1;
    if (jit) {
        failed |= run_sample(jit, "jit", 10);
    } else {
        printf("[jit] unavailable here: %s\n", pvm_last_error());
    }
    pvm_engine_free(jit);
    pvm_engine_free(interpreter);
    return failed;
}
