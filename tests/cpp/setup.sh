#!/usr/bin/env bash
# GoogleTest for `make test-cpp`: Debian's libgtest-dev, installed if missing.
set -euo pipefail
if compgen -G "/usr/lib/*/cmake/GTest/GTestConfig.cmake" >/dev/null || [ -f /usr/lib/cmake/GTest/GTestConfig.cmake ]; then
  exit 0
fi
echo "tests/cpp/setup.sh: installing libgtest-dev (GoogleTest) with apt-get"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq libgtest-dev
