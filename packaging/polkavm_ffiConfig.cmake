# find_package(polkavm_ffi) gives two imported targets, both with polkavm_ffi.h and polkavm_ffi.hpp:
#   polkavm_ffi::polkavm_ffi         the shared library
#   polkavm_ffi::polkavm_ffi_static  the static library (with the system libraries it needs)
# Installed as <prefix>/lib/cmake/polkavm_ffi/, so the prefix is three directories up.
get_filename_component(_polkavm_ffi_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET polkavm_ffi::polkavm_ffi)
  add_library(polkavm_ffi::polkavm_ffi SHARED IMPORTED)
  set_target_properties(polkavm_ffi::polkavm_ffi PROPERTIES
    IMPORTED_LOCATION "${_polkavm_ffi_prefix}/lib/libpolkavm_ffi.so"
    # Link it as -lpolkavm_ffi rather than by its full path: right for the build tree's library
    # (no SONAME) and for a release's (SONAME libpolkavm_ffi.so.1, recorded by the linker).
    IMPORTED_NO_SONAME TRUE
    INTERFACE_INCLUDE_DIRECTORIES "${_polkavm_ffi_prefix}/include")

  add_library(polkavm_ffi::polkavm_ffi_static STATIC IMPORTED)
  set_target_properties(polkavm_ffi::polkavm_ffi_static PROPERTIES
    IMPORTED_LOCATION "${_polkavm_ffi_prefix}/lib/libpolkavm_ffi.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_polkavm_ffi_prefix}/include"
    # `cargo rustc -- --print native-static-libs`
    INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl;c")
endif()

unset(_polkavm_ffi_prefix)
