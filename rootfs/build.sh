#!/usr/bin/env bash
# Builds the golden VM image: Debian 12 (bookworm) with Xvfb, Chromium, GStreamer,
# the vmlive agent + helper and their systemd units. Boot it with systemd-nspawn
# (seconds) or turn it into a disk image for QEMU/Firecracker. Run as root.
#
#   rootfs/build.sh [OUT_DIR]          default OUT_DIR: rootfs/build/golden
#   VMLIVE_DEBIAN_MIRROR=...           default http://deb.debian.org/debian
#
# Re-running updates the agent in an existing image without re-bootstrapping.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/rootfs/build/golden}
MIRROR=${VMLIVE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() { echo "rootfs/build.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap"
command -v node >/dev/null || die "node (>= 20) missing on the build host"

PACKAGES=(
  systemd-sysv dbus ca-certificates procps iproute2
  xvfb xauth chromium fonts-dejavu-core
  python3-gi python3-xlib
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-nice gstreamer1.0-x
)

if [ ! -x "$OUT/usr/bin/apt-get" ]; then
  echo "==> debootstrap bookworm into $OUT"
  mkdir -p "$OUT"
  debootstrap --variant=minbase bookworm "$OUT" "$MIRROR"
fi

echo "==> installing packages in the image"
# Keep package maintainer scripts from starting services inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$OUT/usr/sbin/policy-rc.d"
chmod +x "$OUT/usr/sbin/policy-rc.d"
chroot "$OUT" apt-get update -q
DEBIAN_FRONTEND=noninteractive chroot "$OUT" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
chroot "$OUT" apt-get clean
rm -f "$OUT/usr/sbin/policy-rc.d"

echo "==> building and staging the agent"
(cd "$ROOT" && npm run build --silent)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/protocol" "$STAGE/vm-browser-agent"
cp -a "$ROOT/protocol/package.json" "$ROOT/protocol/dist" "$STAGE/protocol/"
cp -a "$ROOT/vm-browser-agent/package.json" "$ROOT/vm-browser-agent/dist" "$ROOT/vm-browser-agent/helper" \
  "$ROOT/vm-browser-agent/sandbox-pages" "$STAGE/vm-browser-agent/"
find "$STAGE" -name '__pycache__' -prune -exec rm -rf {} +
cat > "$STAGE/package.json" <<'JSON'
{ "name": "vmlive-vm", "private": true, "type": "module", "workspaces": ["protocol", "vm-browser-agent"] }
JSON
(cd "$STAGE" && npm install --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
rm -rf "$OUT/opt/vmlive"
mkdir -p "$OUT/opt/vmlive"
cp -a "$STAGE/." "$OUT/opt/vmlive/"
chmod 0755 "$OUT/opt/vmlive"  # mktemp made the stage 0700; the agent runs as vmlive
# Debian 12's nodejs is 18; the agent needs 20, so the build host's runtime ships with it.
install -m 0755 "$(command -v node)" "$OUT/usr/local/bin/node"

echo "==> systemd units"
chroot "$OUT" id vmlive >/dev/null 2>&1 || chroot "$OUT" useradd --system --create-home --home-dir /var/lib/vmlive --shell /usr/sbin/nologin vmlive
install -m 0644 "$ROOT"/rootfs/units/*.service "$OUT/etc/systemd/system/"
install -m 0644 "$ROOT/rootfs/units/vmlive-tmpfiles.conf" "$OUT/etc/tmpfiles.d/vmlive.conf"
mkdir -p "$OUT/etc/vmlive"
[ -f "$OUT/etc/vmlive/vm.env" ] || install -m 0640 "$ROOT/rootfs/vm.env.example" "$OUT/etc/vmlive/vm.env"
for unit in vmlive-xvfb vmlive-browser vmlive-agent; do
  ln -sf "/etc/systemd/system/$unit.service" "$OUT/etc/systemd/system/multi-user.target.wants/$unit.service"
done
echo "vmlive-vm" > "$OUT/etc/hostname"
echo "==> golden image ready: $OUT ($(du -sh "$OUT" | cut -f1))"
