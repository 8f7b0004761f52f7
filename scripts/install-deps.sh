#!/usr/bin/env bash
# Installs everything vmlive needs on Debian 12: apt packages (only the missing
# ones, so a warm machine pays nothing) and the npm workspaces' dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  xvfb xauth x11-utils
  chromium fonts-dejavu-core
  python3-gi python3-xlib
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-nice gstreamer1.0-x
  flake8 shellcheck
  x11vnc websockify novnc
  # TURN relay: tests run a real coturn from deploy/coturn/turnserver.conf.
  coturn
  # The shared store (VMLIVE_STORE=redis://…): the Redis-store tests start their own redis-server.
  redis-server
  # The reverse-proxy alternative (deploy/nginx/vmlive.conf): tests run their own nginx on free ports.
  nginx-light
  # The golden VM image (rootfs/build.sh) and its VMs (rootfs/vm.sh).
  debootstrap e2fsprogs openssl curl iproute2 nftables procps systemd-container qemu-system-x86 qemu-utils
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "vmlive: installing apt packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >&2
  # No service starts during the install (policy-rc.d exit 101, Debian's invoke-rc.d policy): the
  # tests start their own nginx, coturn and redis-server on free ports, and the system nginx's
  # postinst would otherwise start one holding port 80 (or fail the install if :80 is taken).
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || {
    [ -z "$policy" ] || $SUDO rm -f "$policy"
    exit 1
  }
  [ -z "$policy" ] || $SUDO rm -f "$policy"
fi

# Install only when the lockfile changed since the last install. `npm install`
# follows the lockfile; `npm ci` cannot be used because the registry reachable
# here lacks Biome's non-Linux optional binaries, which npm ci insists on
# finding in the lockfile.
stamp=node_modules/.vmlive-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "vmlive: installing npm dependencies" >&2
  npm install --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
fi
