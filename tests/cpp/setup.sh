#!/usr/bin/env bash
# For `make test-cpp`: Debian's libgtest-dev (GoogleTest) and libjson-c-dev (json-c, which reads
# tests/error_contract.json), installed if missing.
set -euo pipefail
packages=()
if ! compgen -G "/usr/lib/*/cmake/GTest/GTestConfig.cmake" >/dev/null && [ ! -f /usr/lib/cmake/GTest/GTestConfig.cmake ]; then
  packages+=(libgtest-dev)
fi
[ -f /usr/include/json-c/json.h ] || packages+=(libjson-c-dev)
[ ${#packages[@]} -eq 0 ] && exit 0
echo "tests/cpp/setup.sh: installing ${packages[*]} with apt-get"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq "${packages[@]}"
