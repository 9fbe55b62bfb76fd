// Compiles include/polkavm_ffi.hpp alone (see CMakeLists.txt for the standards and warnings).
#include "polkavm_ffi.hpp"
#include "polkavm_ffi.hpp"

#include <type_traits>

static_assert(!std::is_copy_constructible_v<pvm::Engine> && std::is_nothrow_move_constructible_v<pvm::Engine>);
static_assert(!std::is_copy_constructible_v<pvm::Module> && std::is_nothrow_move_constructible_v<pvm::Module>);
static_assert(!std::is_copy_constructible_v<pvm::Instance> && std::is_nothrow_move_constructible_v<pvm::Instance>);
static_assert(!std::is_copy_assignable_v<pvm::Instance> && std::is_nothrow_move_assignable_v<pvm::Instance>);
