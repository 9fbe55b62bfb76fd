/* Compiled with -std=c11 -Wall -Wextra -Werror -pedantic: the header must stay clean C11. */
#include "polkavm_ffi.h"
#include "polkavm_ffi.h" /* include guard */

_Static_assert(sizeof(PvmResult) == 24, "PvmResult is 24 bytes");
int pvm_header_compiles_as_c11(void) { return PVM_STATUS_HALT; }
