// The library's fast paths into a UniFFI Instance (src/uniffi_api/fast.rs), which
// Sources/PolkaVM/FastPath.swift calls. Hand-written: they are not part of the UniFFI bindings nor
// of the pvm_* C ABI. `handle` is the UniFFI object's handle; each returns 0 or, on failure, -1
// with the error kept for pvm_uniffi_error_kind / _text on the calling thread.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PvmUniffiRunResult {
    uint32_t status;
    uint32_t host_call;
    uint32_t fault_address;
    int64_t gas_remaining;
} PvmUniffiRunResult;

uint32_t pvm_uniffi_error_kind(void);
const uint8_t *_Nonnull pvm_uniffi_error_text(size_t *_Nonnull len);

int32_t pvm_uniffi_instance_read_reg(uint64_t handle, uint32_t reg, uint64_t *_Nonnull out);
int32_t pvm_uniffi_instance_set_reg(uint64_t handle, uint32_t reg, uint64_t value);
int32_t pvm_uniffi_instance_read_gas(uint64_t handle, int64_t *_Nonnull out);
int32_t pvm_uniffi_instance_set_gas(uint64_t handle, int64_t gas);
int32_t pvm_uniffi_instance_run(uint64_t handle, PvmUniffiRunResult *_Nonnull out);
int32_t pvm_uniffi_instance_prepare_call(uint64_t handle, uint32_t pc, const uint64_t *_Nullable args, size_t args_len);
int32_t pvm_uniffi_instance_call_begin(uint64_t handle, const uint8_t *_Nullable name, size_t name_len,
                                       const uint64_t *_Nullable args, size_t args_len, bool has_gas, int64_t gas);
int32_t pvm_uniffi_instance_call_run(uint64_t handle, PvmUniffiRunResult *_Nonnull out);
int32_t pvm_uniffi_instance_call_end(uint64_t handle);
int32_t pvm_uniffi_instance_regs(uint64_t handle, uint64_t *_Nonnull out);
