#!/usr/bin/env bash
# Provisions one VM from the golden image: registers it at the controller,
# copies the image, writes its /etc/vmlive/vm.env, and (with --boot) boots it
# with systemd-nspawn sharing the host network, so its agent reaches the
# controller and viewers reach its ICE candidates. Run as root.
#
#   rootfs/provision.sh NAME --controller URL --operator-token TOKEN [--start-url URL] [--codec vp8|h264] [--boot]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOLDEN=${VMLIVE_GOLDEN:-$ROOT/rootfs/build/golden}
die() { echo "rootfs/provision.sh: $*" >&2; exit 1; }
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

[ $# -ge 1 ] || usage 2
case "$1" in -h|--help) usage 0 ;; esac
NAME=$1; shift
CONTROLLER="" TOKEN="" START_URL="about:blank" CODEC="vp8" BOOT=0
while [ $# -gt 0 ]; do
  case "$1" in
    --controller) CONTROLLER=$2; shift 2 ;;
    --operator-token) TOKEN=$2; shift 2 ;;
    --start-url) START_URL=$2; shift 2 ;;
    --codec) CODEC=$2; shift 2 ;;
    --boot) BOOT=1; shift ;;
    -h|--help) usage 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ "$NAME" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "NAME must be lowercase letters, digits and dashes"
[ -n "$CONTROLLER" ] || die "--controller is required"
[ -n "$TOKEN" ] || die "--operator-token is required"
[[ "$CODEC" =~ ^(vp8|h264)$ ]] || die "--codec must be vp8 or h264"
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -x "$GOLDEN/usr/local/bin/node" ] || die "no golden image at $GOLDEN: run rootfs/build.sh first"
DIR=$ROOT/rootfs/build/vms/$NAME
[ ! -e "$DIR" ] || die "$DIR exists already"

reply=$(curl -fsS -X POST "$CONTROLLER/api/vms" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -d "{\"name\":\"$NAME\"}") || die "controller refused POST /api/vms"
VM_ID=$(printf '%s' "$reply" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).vmId))')
VM_TOKEN=$(printf '%s' "$reply" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).vmToken))')

# X display numbers are per network namespace (abstract sockets), shared with the host under nspawn.
free_display() {
  local n
  for n in $(seq 100 999); do
    grep -q "@/tmp/.X11-unix/X$n\$" /proc/net/unix || grep -rqs "^DISPLAY=:$n\$" "$ROOT"/rootfs/build/vms/*/etc/vmlive/vm.env || { echo ":$n"; return; }
  done
  die "no free X display number"
}
DISPLAY_NUM=$(free_display)

mkdir -p "$(dirname "$DIR")"
cp -a --reflink=auto "$GOLDEN" "$DIR"
umask 077
cat > "$DIR/etc/vmlive/vm.env" <<ENV
VMLIVE_CONTROLLER_URL=$CONTROLLER
VMLIVE_VM_ID=$VM_ID
VMLIVE_VM_TOKEN=$VM_TOKEN
DISPLAY=$DISPLAY_NUM
VMLIVE_CDP_PORT=$((9000 + ${DISPLAY_NUM#:}))
VMLIVE_START_URL=$START_URL
VMLIVE_CODEC=$CODEC
VMLIVE_WIDTH=1280
VMLIVE_HEIGHT=720
VMLIVE_FPS=30
ENV
chroot "$DIR" chown root:vmlive /etc/vmlive/vm.env
chmod 0640 "$DIR/etc/vmlive/vm.env"
echo "$NAME" > "$DIR/etc/hostname"
echo "VM $NAME registered as $VM_ID; root at $DIR; display $DISPLAY_NUM; browser CDP http://127.0.0.1:$((9000 + ${DISPLAY_NUM#:}))"

# --keep-unit and --register=no let it run on hosts whose init is not systemd (containers, CI).
CMD=(systemd-nspawn --boot --keep-unit --register=no --directory="$DIR" --machine="vmlive-$NAME" --console=passive)
if [ "$BOOT" -eq 1 ]; then
  nohup "${CMD[@]}" >"$DIR.log" 2>&1 &
  echo "booting (pid $!); log $DIR.log; stop with: machinectl poweroff vmlive-$NAME"
else
  echo "boot it with: ${CMD[*]}"
fi
