#!/usr/bin/env bash
# Fails when an ELF file (of any CPU: readelf) needs a glibc symbol version newer than MAX:
#   packaging/check_glibc.sh MAX FILE...      e.g. packaging/check_glibc.sh 2.17 libpolkavm_ffi.so
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: check_glibc.sh MAX FILE..." >&2; exit 2; }
max=$1; shift
status=0
for file in "$@"; do
  newest=$(readelf -W --dyn-syms "$file" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
  [ -n "$newest" ] || { echo "check_glibc: $file: no GLIBC symbol versions (not a dynamic ELF?)" >&2; status=1; continue; }
  if [ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -n 1)" != "$max" ]; then
    echo "check_glibc: $file needs GLIBC_$newest, newer than $max:" >&2
    readelf -W --dyn-syms "$file" | grep -E "GLIBC_$newest\b" | head -n 5 >&2
    status=1
  else
    echo "check_glibc: $file needs at most GLIBC_$newest (limit $max)"
  fi
done
exit $status
