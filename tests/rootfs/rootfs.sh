#!/usr/bin/env bash
# Debian root filesystems for the toolchains our own Debian lacks (Swift, Julia, an older glibc, an
# ARM64 cross toolchain), built once with debootstrap and cached outside the clone, entered with
# bubblewrap (not chroot: polkavm's Linux sandbox cannot start its workers inside a chroot).
#
#   tests/rootfs/rootfs.sh path NAME                  print the root's path (building it if needed)
#   tests/rootfs/rootfs.sh run NAME [--env K=V]... CMD...
#                                                     run CMD inside, the repository at /mnt/repo
#
# NAME is one of the roots defined below. The cache lives in $PVM_ROOTFS_CACHE
# (default /var/cache/polkavm-ffi/rootfs); a root is rebuilt when its definition changes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${PVM_ROOTFS_CACHE:-/var/cache/polkavm-ffi/rootfs}

# name -> "suite|extra apt setup|packages|packages to unpack only"
# The last field is for foreign-CPU packages whose maintainer scripts run their own binaries
# (python3:arm64): they and their Pre-Depends are unpacked with dpkg -x, not configured; their
# other dependencies belong in the packages field.
define() {
  case "$1" in
    swift)    echo "trixie||swiftlang libcurl4-openssl-dev pkg-config git" ;;
    julia)    echo "bullseye||julia" ;;
    bullseye) echo "bullseye||python3 python3-venv python3-pip gcc g++ make pkg-config cmake openjdk-17-jdk-headless ca-certificates" ;;
    arm64)    echo "sid|arm64|rustc cargo libstd-rust-dev:arm64 gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user make cmake pkg-config libpython3-stdlib:arm64 libexpat1:arm64 zlib1g:arm64 python3-pip-whl ca-certificates|python3-minimal:arm64" ;;
    *) echo "rootfs.sh: unknown root '$1' (swift, julia, bullseye, arm64)" >&2; return 1 ;;
  esac
}

die() { echo "rootfs.sh: $*" >&2; exit 1; }

host_tools() {
  [ "$(uname -s)" = Linux ] || die "needs Linux (debootstrap and bubblewrap); install the toolchain natively instead"
  if command -v debootstrap >/dev/null && command -v bwrap >/dev/null; then return; fi
  [ "$(id -u)" -eq 0 ] || die "needs debootstrap and bubblewrap: run as root, or 'sudo apt-get install debootstrap bubblewrap'"
  echo "rootfs.sh: installing debootstrap and bubblewrap with apt-get" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap bubblewrap >&2
}

# The Debian mirror apt already uses on this machine.
mirror() {
  local uri
  uri=$(grep -rhoE '^(URIs:|deb)[[:space:]]+[a-z]+://[^[:space:]]*debian[^[:space:]]*' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -v security | head -n 1 | awk '{print $2}')
  echo "${uri:-http://deb.debian.org/debian}"
}

# The host's certificates are bound only when running (cargo trusts the registry as the host
# does); while building, the root's own ca-certificates package must be free to write them.
bwrap_args() {
  local root=$1 certs=${2:-}
  echo --bind "$root" / --bind "$repo" /mnt/repo --dev /dev --proc /proc --ro-bind /sys /sys \
       ${certs:+--ro-bind /etc/ssl/certs /etc/ssl/certs} --ro-bind /etc/resolv.conf /etc/resolv.conf \
       --perms 1777 --tmpfs /tmp --chdir /mnt/repo
}

build() {
  local name=$1 def suite extra packages unpack root stamp key mirror_uri
  def=$(define "$name")
  IFS='|' read -r suite extra packages unpack <<<"$def"
  root="$cache/$name"
  # The definition and the procedure that builds it: editing another root leaves this one cached.
  key=$(printf '%s\n' "$def" "$(declare -f build)" | sha256sum | cut -c1-16)
  stamp="$root/.polkavm-ffi-rootfs"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    echo "$root"; return
  fi
  mkdir -p "$cache"
  # One builder at a time per root; the others wait, then find it built.
  exec 9>"$cache/$name.lock"
  flock 9
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    echo "$root"; return
  fi
  host_tools
  mirror_uri=$(mirror)
  echo "rootfs.sh: building '$name' (Debian $suite from $mirror_uri) in $root" >&2
  rm -rf "$root" "$root.partial"
  mkdir -p "$cache"
  local start=$SECONDS
  debootstrap --variant=minbase "$suite" "$root.partial" "$mirror_uri" >&2 \
    || die "debootstrap $suite failed (see above)"
  echo 'Acquire::Check-Valid-Until "false";' > "$root.partial/etc/apt/apt.conf.d/99no-check-valid-until"
  local setup="set -e; export DEBIAN_FRONTEND=noninteractive"
  [ -z "$extra" ] || setup="$setup; dpkg --add-architecture $extra"
  setup="$setup; apt-get update -qq; apt-get install -y -qq --no-install-recommends $packages"
  [ -z "$unpack" ] || setup="$setup; cd /tmp; apt-get download -qq $unpack \$(apt-cache depends $unpack | awk '/PreDepends:/ {print \$2}')
    for deb in *.deb; do dpkg -x \$deb /; done"
  setup="$setup; apt-get clean"
  # shellcheck disable=SC2046
  bwrap $(bwrap_args "$root.partial") \
    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash -c "$setup" >&2 \
    || die "installing '$packages' into the $suite root failed (see above)"
  echo "$key" > "$root.partial/.polkavm-ffi-rootfs"
  mv "$root.partial" "$root"
  echo "rootfs.sh: '$name' ready in $((SECONDS - start)) s" >&2
  echo "$root"
}

cmd=${1:-}; shift || true
case "$cmd" in
  path)
    [ $# -eq 1 ] || die "usage: rootfs.sh path NAME"
    build "$1" ;;
  run)
    [ $# -ge 2 ] || die "usage: rootfs.sh run NAME [--env K=V]... CMD..."
    name=$1; shift
    root=$(build "$name")
    envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
    while [ "${1:-}" = --env ]; do envs+=("$2"); shift 2; done
    # shellcheck disable=SC2046
    exec bwrap $(bwrap_args "$root" certs) /usr/bin/env -i "${envs[@]}" "$@" ;;
  *) die "usage: rootfs.sh path NAME | run NAME [--env K=V]... CMD..." ;;
esac
