// Compiled with -std=c++17 -Wall -Wextra -Werror -pedantic: the header must stay clean C++17
// and declare its functions extern "C".
#include "polkavm_ffi.h"
#include "polkavm_ffi.h"  // include guard

#include <type_traits>

static_assert(sizeof(PvmResult) == 24, "PvmResult is 24 bytes");
static_assert(std::is_same_v<decltype(&pvm_engine_new), PvmEngine (*)()>, "C linkage signature");
int pvm_header_compiles_as_cxx17() { return PVM_STATUS_HALT; }
