#!/usr/bin/env bash
# rootfs/build.sh — builds the vmlive golden VM image.
#
# Usage: rootfs/build.sh [--out DIR] [--mirror URL] [--security-mirror URL] [--rebuild-base] [--keep N]
#
# Builds Debian 12 (bookworm) with debootstrap, installs rootfs/packages.txt with
# --no-install-recommends, bundles the vmlive agent, its GStreamer helper and a
# Node 20 runtime (rootfs/node-runtime.env) into /opt/vmlive, and enables the
# systemd units in rootfs/units. Outputs, in DIR/images/ID/ (DIR/images/current
# points at the newest):
#   rootfs/        the tree (systemd-nspawn boots it; container VMs overlay it)
#   disk.ext4      the same tree as an ext4 image (QEMU VMs use it as qcow2 backing)
#   vmlinuz, initrd.img
#   manifest.json  inputs, installed package versions, sizes and stage timings
#
# Stages are cached: the debootstrap + packages stage under DIR/cache/base-KEY
# (KEY hashes the package list, the mirrors and the stage's recipe), and a whole
# image by the hash of that key and the agent bundle, so a rebuild with nothing
# changed returns at once and an agent change costs seconds, not minutes.
#
# Options:
#   --out DIR               build directory (default: rootfs/build)
#   --mirror URL            Debian mirror (default: the host's apt source for
#                           bookworm, else http://deb.debian.org/debian); also
#                           VMLIVE_DEBIAN_MIRROR
#   --security-mirror URL   (default: the host's bookworm-security source, else
#                           http://deb.debian.org/debian-security); also
#                           VMLIVE_DEBIAN_SECURITY_MIRROR
#   --rebuild-base          ignore the cached base stage
#   --keep N                older images to keep besides ones in use (default 1)
#   -h, --help              this text
#
# Needs root, debootstrap, e2fsprogs, node and npm, and about 8 GiB free for a
# first build. Exit codes: 0 built or up to date, 1 failed, 2 bad usage.
set -euo pipefail
PROG=rootfs/build.sh
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/common.sh
. "$REPO/rootfs/lib/common.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

SUITE=bookworm
OUT=$REPO/rootfs/build
MIRROR=${VMLIVE_DEBIAN_MIRROR:-}
SECURITY_MIRROR=${VMLIVE_DEBIAN_SECURITY_MIRROR:-}
REBUILD_BASE=0
KEEP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --mirror) MIRROR=${2:?--mirror needs a URL}; shift 2 ;;
    --security-mirror) SECURITY_MIRROR=${2:?--security-mirror needs a URL}; shift 2 ;;
    --rebuild-base) REBUILD_BASE=1; shift ;;
    --keep) KEEP=${2:?--keep needs a number}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$PROG: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$KEEP" =~ ^[0-9]+$ ]] || { echo "$PROG: --keep must be a number" >&2; exit 2; }

need_root "debootstrap, chroot and mkfs need it"
need_cmds debootstrap:debootstrap chroot:coreutils mkfs.ext4:e2fsprogs node:nodejs npm:npm \
  sha256sum:coreutils tar:tar gzip:gzip openssl:openssl base64:coreutils
if [ ! -x "$REPO/node_modules/.bin/tsc" ] || [ ! -x "$REPO/node_modules/.bin/esbuild" ]; then
  die "the repo's npm dependencies are missing: run scripts/install-deps.sh (or ./vmlive image, which does)"
fi
mkdir -p "$OUT/cache" "$OUT/images"
OUT=$(realpath "$OUT")
T0=$(now)

# The host's apt source for SUITE_PATTERN (one-line or deb822 format), first match.
host_mirror() {
  local suite=$1
  {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v s="$suite" '$1 == "deb" { u = ""; for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if (u == "") u = $i; else if ($i == s) { print u; exit } } }'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" } { u = ""; ok = 0; en = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); u = a[2] }
          if ($i ~ /^Suites:/) { n = split($i, a, /[ \t]+/); for (j = 2; j <= n; j++) if (a[j] == s) ok = 1 }
          if ($i ~ /^Enabled:[ \t]*no/) en = 0
        }
        if (ok && en && u != "") { print u; exit } }'
  } | head -1
}
[ -n "$MIRROR" ] || MIRROR=$(host_mirror "$SUITE")
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
[ -n "$SECURITY_MIRROR" ] || SECURITY_MIRROR=$(host_mirror "$SUITE-security")
[ -n "$SECURITY_MIRROR" ] || SECURITY_MIRROR=http://deb.debian.org/debian-security
mapfile -t PACKAGES < <(sed 's/#.*//' "$REPO/rootfs/packages.txt" | tr -s ' \t' '\n' | sed '/^$/d')

# ---------------------------------------------------------------------------
# Stage 1 (cached): debootstrap + packages.

CHROOT_MOUNTED=""
chroot_mounts() {
  local root=$1
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount -t devpts devpts "$root/dev/pts" -o newinstance,ptmxmode=0666
  CHROOT_MOUNTED=$root
}
chroot_unmounts() {
  [ -n "$CHROOT_MOUNTED" ] || return 0
  unmount_below "$CHROOT_MOUNTED/dev"
  unmount_below "$CHROOT_MOUNTED/sys"
  unmount_below "$CHROOT_MOUNTED/proc"
  CHROOT_MOUNTED=""
}

build_base() {
  local root=$1
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >&2
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Package scripts must not start services inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  chroot_mounts "$root"
  chroot "$root" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2
  chroot "$root" apt-get clean
  chroot_unmounts
  rm -f "$root/usr/sbin/policy-rc.d"
  rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/log/"*.log "$root/tmp/"*
}

BASE_KEY=$( {
  printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "${PACKAGES[@]}"
  declare -f build_base chroot_mounts
} | sha256sum | cut -c1-16)
BASE=$OUT/cache/base-$BASE_KEY
BASE_SECONDS=0

cleanup() {
  local rc=$?
  chroot_unmounts
  [ -z "${PARTIAL:-}" ] || { unmount_below "$PARTIAL"; rm -rf "$PARTIAL"; }
  [ -z "${STAGE:-}" ] || rm -rf "$STAGE"
  if [ "$rc" -ne 0 ]; then
    [ -z "${BASE_LOG:-}" ] || { echo "--- last lines of $BASE_LOG:" >&2; tail -30 "$BASE_LOG" >&2; }
    echo "$PROG: failed; nothing partial was kept" >&2
  fi
}
trap cleanup EXIT

if [ "$REBUILD_BASE" -eq 1 ] && [ -d "$BASE" ]; then
  rm -rf "$BASE" "$BASE.packages.tsv"
fi
if [ ! -d "$BASE" ]; then
  need_free_disk "$OUT" 8 "a first build (base stage, image tree and ext4 image)"
  step "base stage $BASE_KEY: debootstrap $SUITE from $MIRROR and ${#PACKAGES[@]} packages (a few minutes)"
  t=$(now)
  PARTIAL=$BASE.partial
  rm -rf "$PARTIAL"
  mkdir -p "$PARTIAL"
  BASE_LOG=$OUT/cache/base-$BASE_KEY.log
  step "(debootstrap and apt output: $BASE_LOG)"
  build_base "$PARTIAL" >"$BASE_LOG" 2>&1
  BASE_LOG=""
  # shellcheck disable=SC2016 # a dpkg-query format, not shell expansions
  chroot "$PARTIAL" dpkg-query -W -f '${Package}\t${Version}\n' >"$BASE.packages.tsv"
  mv "$PARTIAL" "$BASE"
  PARTIAL=""
  BASE_SECONDS=$(elapsed "$t")
  step "base stage built in ${BASE_SECONDS} s"
else
  step "base stage $BASE_KEY: cached"
fi

# ---------------------------------------------------------------------------
# Stage 2: the agent bundle (/opt/vmlive), always rebuilt (seconds).

# shellcheck source=../rootfs/node-runtime.env
. "$REPO/rootfs/node-runtime.env"
NODE_TGZ=$OUT/cache/$NODE_RUNTIME_PACKAGE-$NODE_RUNTIME_VERSION.tgz
tgz_integrity() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }
if [ ! -f "$NODE_TGZ" ] || [ "$(tgz_integrity "$NODE_TGZ")" != "$NODE_RUNTIME_INTEGRITY" ]; then
  step "fetching $NODE_RUNTIME_PACKAGE@$NODE_RUNTIME_VERSION from the npm registry"
  rm -f "$NODE_TGZ"
  (cd "$OUT/cache" && npm pack --silent "$NODE_RUNTIME_PACKAGE@$NODE_RUNTIME_VERSION" >/dev/null)
  [ "$(tgz_integrity "$NODE_TGZ")" = "$NODE_RUNTIME_INTEGRITY" ] ||
    { rm -f "$NODE_TGZ"; die "$NODE_RUNTIME_PACKAGE@$NODE_RUNTIME_VERSION does not match the pinned integrity in rootfs/node-runtime.env"; }
fi

step "bundling the agent"
STAGE=$(mktemp -d "$OUT/cache/stage.XXXXXX")
chmod 0755 "$STAGE"
"$REPO/node_modules/.bin/tsc" -b "$REPO/vm-browser-agent"
mkdir -p "$STAGE/opt/vmlive/agent" "$STAGE/opt/vmlive/node"
# One file instead of node_modules: fewer files to read at start (TCG VMs are
# slow), and the bundle's hash says exactly which agent an image carries.
"$REPO/node_modules/.bin/esbuild" "$REPO/vm-browser-agent/dist/main.js" --bundle --platform=node --format=esm \
  --target=node20 --log-level=warning --legal-comments=none --outfile="$STAGE/opt/vmlive/agent/main.mjs" \
  "--banner:js=import { createRequire as __vmliveRequire } from 'node:module'; const require = __vmliveRequire(import.meta.url);"
(cd "$REPO/vm-browser-agent" && tar -cf - --exclude=__pycache__ --exclude='*.pyc' --exclude=tests --exclude=README.md \
  --exclude=.flake8 helper) | tar -xf - -C "$STAGE/opt/vmlive"
cp -a "$REPO/vm-browser-agent/sandbox-pages" "$STAGE/opt/vmlive/pages"
tar -xzf "$NODE_TGZ" -C "$STAGE/opt/vmlive/node" --strip-components=1 package/bin/node package/LICENSE
"$STAGE/opt/vmlive/node/bin/node" --version >/dev/null || die "the bundled node does not run"
# Units, guest scripts and config defaults.
install -D -m 0644 -t "$STAGE/etc/systemd/system" "$REPO"/rootfs/units/*.service "$REPO"/rootfs/units/*.mount
install -D -m 0644 "$REPO/rootfs/units/vmlive-tmpfiles.conf" "$STAGE/etc/tmpfiles.d/vmlive.conf"
install -D -m 0755 -t "$STAGE/usr/local/lib/vmlive" "$REPO"/rootfs/guest/*

AGENT_KEY=$( (cd "$STAGE" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)

assemble_image() {
  local root=$1
  cp -a --reflink=auto "$BASE" "$root"
  cp -a "$STAGE/." "$root/"
  chroot "$root" useradd --system --user-group --create-home --home-dir /var/lib/vmlive --shell /usr/sbin/nologin vmlive
  # The VM agent runs apart from the browser: the DevTools guard (guest/devtools-guard.nft) admits only its uid.
  chroot "$root" useradd --system --user-group --create-home --home-dir /var/lib/vmlive-agent --shell /usr/sbin/nologin vmlive-agent
  mkdir -p "$root/etc/vmlive"
  chmod 0755 "$root/etc/vmlive"
  local unit
  for unit in vmlive-xvfb.service vmlive-devtools-guard.service vmlive-browser.service vmlive-agent.service vmlive-network.service; do
    ln -sf "/etc/systemd/system/$unit" "$root/etc/systemd/system/multi-user.target.wants/$unit"
  done
  mkdir -p "$root/etc/systemd/system/local-fs.target.wants"
  ln -sf /etc/systemd/system/etc-vmlive.mount "$root/etc/systemd/system/local-fs.target.wants/etc-vmlive.mount"
  # Every VM would otherwise run apt and fstrim on its own schedule.
  for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  # Each VM gets its identity at first boot, never from the golden image.
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
  echo vmlive-vm >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  # debootstrap copied the build host's resolver; each VM gets its own at provision time.
  : >"$root/etc/resolv.conf"
  printf '# / comes from the kernel command line (QEMU) or the container runtime.\n' >"$root/etc/fstab"
  rm -rf "$root/var/cache/apt/"*.bin "$root/var/lib/apt/lists/"* "$root/tmp/"*
}

IMAGE_ID=$(printf '%s\n' "$BASE_KEY" "$AGENT_KEY" "$(declare -f assemble_image)" | sha256sum | cut -c1-16)
IMAGE=$OUT/images/$IMAGE_ID
if [ -f "$IMAGE/manifest.json" ]; then
  ln -sfn "$IMAGE_ID" "$OUT/images/current"
  step "image $IMAGE_ID is up to date (same base and agent); nothing to build"
  echo "$IMAGE"
  exit 0
fi

# ---------------------------------------------------------------------------
# Stage 3: the image.

step "assembling image $IMAGE_ID"
t=$(now)
PARTIAL=$IMAGE.partial
rm -rf "$PARTIAL"
mkdir -p "$PARTIAL"
assemble_image "$PARTIAL/rootfs"
KERNEL=$(find "$PARTIAL/rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -1)
INITRD=$(find "$PARTIAL/rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -1)
if [ -z "$KERNEL" ] || [ -z "$INITRD" ]; then die "no kernel or initrd under /boot of the base stage"; fi
install -m 0644 "$KERNEL" "$PARTIAL/vmlinuz"
install -m 0644 "$INITRD" "$PARTIAL/initrd.img"
ASSEMBLE_SECONDS=$(elapsed "$t")

t=$(now)
ROOTFS_MB=$(du -sm "$PARTIAL/rootfs" | cut -f1)
# Room for each VM's changes (browser profile, logs) inside its copy-on-write overlay.
DISK_MB=$(((ROOTFS_MB * 12 / 10 + 1024 + 255) / 256 * 256))
step "ext4 image: ${ROOTFS_MB} MiB of files in a ${DISK_MB} MiB filesystem"
mkfs.ext4 -q -F -L vmlive-root -m 0 -d "$PARTIAL/rootfs" "$PARTIAL/disk.ext4" "${DISK_MB}M" >/dev/null
MKFS_SECONDS=$(elapsed "$t")

GIT_COMMIT=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$([ -n "$(git -C "$REPO" status --porcelain 2>/dev/null)" ] && echo true || echo false)
node - "$BASE.packages.tsv" >"$PARTIAL/manifest.json" <<EOF
const fs = require('node:fs');
const packages = Object.fromEntries(
  fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => l.split('\t')),
);
const m = {
  image: '$IMAGE_ID',
  builtAt: new Date().toISOString(),
  suite: '$SUITE',
  mirror: '$MIRROR',
  securityMirror: '$SECURITY_MIRROR',
  baseKey: '$BASE_KEY',
  agentKey: '$AGENT_KEY',
  requestedPackages: '${PACKAGES[*]}'.split(' '),
  packages,
  node: { package: '$NODE_RUNTIME_PACKAGE', version: '$NODE_RUNTIME_VERSION', integrity: '$NODE_RUNTIME_INTEGRITY' },
  agent: { gitCommit: '$GIT_COMMIT', gitDirty: $GIT_DIRTY },
  kernel: '$(basename "$KERNEL")',
  sizes: { rootfsMiB: $ROOTFS_MB, diskMiB: $DISK_MB },
  seconds: { base: $BASE_SECONDS, assemble: $ASSEMBLE_SECONDS, mkfs: $MKFS_SECONDS, total: $(elapsed "$T0") },
};
process.stdout.write(JSON.stringify(m, null, 2) + '\n');
EOF
mv "$PARTIAL" "$IMAGE"
PARTIAL=""
ln -sfn "$IMAGE_ID" "$OUT/images/current"

# Prune: images no VM uses (an overlay lowerdir or a qcow2 backing file) beyond --keep, and old base stages.
in_use() {
  grep -qF "$1/" /proc/self/mountinfo && return 0
  grep -rlsF -- "IMAGE=$1" "${VMLIVE_STATE_DIR:-/var/lib/vmlive/vms}"/*/vm.meta >/dev/null 2>&1
}
find "$OUT/images" -mindepth 1 -maxdepth 1 -type d ! -name '*.partial' ! -name "$IMAGE_ID" -printf '%T@ %p\n' |
  sort -rn | cut -d' ' -f2- | tail -n +$((KEEP + 1)) | while read -r old; do
  if in_use "$old"; then continue; fi
  step "pruning unused image $(basename "$old")"
  rm -rf "$old"
done
find "$OUT/cache" -mindepth 1 -maxdepth 1 -type d -name 'base-*' ! -name "base-$BASE_KEY" ! -name '*.partial' |
  while read -r old; do rm -rf "$old" "$old.packages.tsv"; done

step "image $IMAGE_ID built in $(elapsed "$T0") s (base ${BASE_SECONDS} s, assemble ${ASSEMBLE_SECONDS} s, mkfs ${MKFS_SECONDS} s)"
echo "$IMAGE"
