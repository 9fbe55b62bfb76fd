// The C ABI, for the Swift runner's floor (pvm-bench --c-abi): the installed polkavm_ffi.h, which
// pkg-config's polkavm-ffi puts on the include path.
#include <polkavm_ffi.h>
