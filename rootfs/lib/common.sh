# shellcheck shell=bash
# Shared by rootfs/build.sh and rootfs/vm.sh: messages, prerequisite checks and
# small helpers. Sourced, never run. Callers set PROG before sourcing.

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

warn() { echo "$PROG: warning: $*" >&2; }

step() { echo "==> $*" >&2; }

# Seconds since the epoch, with milliseconds, for the timings the commands print.
now() { date +%s.%N | cut -c1-14; }

elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root ($1)"
}

# need_cmds "cmd:debian-package" ... — names every missing command and the
# package that provides it, in one message.
need_cmds() {
  local missing=() pkgs=() spec cmd pkg
  for spec in "$@"; do
    cmd=${spec%%:*}
    pkg=${spec#*:}
    if ! command -v "$cmd" >/dev/null 2>&1; then
      missing+=("$cmd")
      pkgs+=("$pkg")
    fi
  done
  if ((${#missing[@]})); then
    die "missing commands: ${missing[*]} (install with: apt-get install --no-install-recommends $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' '))"
  fi
}

# need_free_disk DIR GiB WHY
need_free_disk() {
  local dir=$1 want=$2 why=$3 have
  mkdir -p "$dir"
  have=$(df --output=avail -B1G "$dir" | tail -1 | tr -d ' ')
  [ "$have" -ge "$want" ] || die "$dir has ${have} GiB free; $why needs at least ${want} GiB"
}

# Unmounts everything at or below DIR, deepest first. Safe to call when nothing is mounted.
unmount_below() {
  local dir
  dir=$(realpath -m "$1")
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# Reads KEY from a KEY=VALUE file (no shell evaluation of the file).
env_get() {
  local file=$1 key=$2
  sed -n "s/^$key=//p" "$file" | tail -1
}
