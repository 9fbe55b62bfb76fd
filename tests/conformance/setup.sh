#!/usr/bin/env bash
# json-c for the C conformance runner (`make test-conformance`): Debian's libjson-c-dev, installed
# if missing. json-c reads the vectors' 64-bit unsigned registers exactly (jansson and cJSON do not).
set -euo pipefail
if [ -f /usr/include/json-c/json.h ]; then
  exit 0
fi
echo "tests/conformance/setup.sh: installing libjson-c-dev (json-c) with apt-get"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq libjson-c-dev
