/* A minimal C user of an installed polkavm-ffi: add(40, 2) on the test program given as argv[1]. */
#include <polkavm_ffi.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *file = fopen(argv[1], "rb");
    if (file == NULL) return 2;
    static uint8_t blob[1 << 16];
    size_t size = fread(blob, 1, sizeof blob, file);
    fclose(file);

    PvmEngine engine = pvm_engine_new_interpreter();
    PvmModule module = pvm_module_new(engine, blob, size);
    PvmInstance instance = pvm_instance_new(engine, module);
    if (instance == NULL) {
        fprintf(stderr, "polkavm-ffi: %s\n", pvm_last_error());
        return 1;
    }
    int32_t index = pvm_module_find_export(module, (const uint8_t *)"add", 3);
    const uint64_t args[] = {40, 2};
    pvm_instance_prepare_call_args(instance, pvm_module_export_pc(module, (uint32_t)index), args, 2);
    pvm_instance_set_gas(instance, 10000);
    PvmResult result = pvm_instance_run(instance);
    uint64_t sum = pvm_instance_get_reg(instance, PVM_REG_A0);
    printf("%s: add(40, 2) = %llu\n", pvm_version(), (unsigned long long)sum);
    pvm_instance_free(instance);
    pvm_module_free(module);
    pvm_engine_free(engine);
    return result.status == PVM_STATUS_HALT && sum == 42 ? 0 : 1;
}
