#!/usr/bin/env bash
# A wheel that carries a given portable library: the wheel maturin built (its Python module is
# generated from the crate and is ctypes over the library, the same for every CPU), with its library
# replaced by LIBRARY and its platform tags set to ARCH. So the wheels, the C SDKs and the jar ship
# the same library. PyPA's `wheel unpack` / `wheel pack` rewrite the file name and the RECORD.
#   packaging/wheel_with_library.sh WHEEL ARCH LIBRARY OUTDIR
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: wheel_with_library.sh WHEEL ARCH LIBRARY OUTDIR" >&2; exit 2; }
wheel_file=$1 arch=$2 library=$3 outdir=$4
wheel_tool=${WHEEL_TOOL:-wheel}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$wheel_tool unpack --dest "$work" "$wheel_file" >/dev/null
unpacked=$(ls -d "$work"/*/)
mapfile -t libraries < <(find "$unpacked" -name '*.so')
[ ${#libraries[@]} -eq 1 ] || { echo "wheel_with_library.sh: expected one library in $wheel_file, found ${libraries[*]}" >&2; exit 1; }
install -m 755 "$library" "${libraries[0]}"
sed -i -E "s/^(Tag: py3-none-.*)_x86_64\$/\\1_$arch/" "$unpacked"/*.dist-info/WHEEL
grep -q "^Tag: .*_$arch\$" "$unpacked"/*.dist-info/WHEEL || { echo "wheel_with_library.sh: no platform tag for $arch" >&2; exit 1; }
mkdir -p "$outdir"
$wheel_tool pack --dest-dir "$outdir" "$unpacked"
