#!/usr/bin/env bash
# rootfs/vm.sh — provisions, lists and destroys vmlive VMs booted from the golden image.
#
# Usage:
#   rootfs/vm.sh provision NAME [options]
#   rootfs/vm.sh list [--json]
#   rootfs/vm.sh destroy NAME... | --all [--delete-from-controller] [--operator-token T]
#
# provision starts VM NAME from the golden image (rootfs/build.sh) with its own
# copy-on-write disk, its own network link and its own identity, injected at
# provision time and never baked into the image:
#   container  systemd-nspawn boots the image tree with full systemd in its own
#              network namespace (veth pair); its disk is an overlayfs whose
#              upper layer belongs to the VM. Starts in seconds.
#   qemu       a full VM: kernel + initrd from the image, a qcow2 overlay on the
#              image's disk.ext4, a tap link, and a small config disk carrying
#              /etc/vmlive/vm.env. KVM when the CPU offers vmx/svm, else TCG.
# Each VM gets a /30 from 10.231.0.0/16 (VMLIVE_NET_PREFIX changes the first two
# octets): the host end is .1 of it, the VM .2. VMs reach other networks through
# the host (IPv4 forwarding and an nftables masquerade in table "ip vmlive"),
# never each other; nothing outside the host opens a connection to a VM.
#
# provision options:
#   --runtime container|qemu   (default: container)
#   --controller URL           the controller as this host reaches it (default:
#                              $VMLIVE_CONTROLLER_URL)
#   --guest-controller URL     the controller as the VM reaches it (default: the
#                              --controller URL with its host replaced by the host
#                              end of the VM's link; the controller must listen
#                              there, e.g. HOST=0.0.0.0)
#   --operator-token T         create the VM in the controller (POST /api/vms) and
#                              wait until it is online (default: $VMLIVE_OPERATOR_TOKEN)
#   --vm-id ID --vm-token T    use an existing registration instead of creating one
#   --image DIR                golden image (default: rootfs/build/images/current)
#   --start-url URL            the kiosk browser's first page (default: the demo page)
#   --codec vp8|h264           (default: vp8)
#   --memory MB --cpus N       QEMU only (default: 2048 MB, 2 CPUs)
#   --wait SECONDS             how long to wait for "online" (default: 60 container,
#                              300 qemu; 0 returns once booting)
#   --no-nat                   the VM reaches the host only (no forwarding, no masquerade)
#   --dns "IP..."              the VM's name servers (default: the host's, unless
#                              they are loopback addresses the VM cannot use)
#   --ca-file PEM              CA certificate(s) that sign an https:// controller
#                              (a private CA): installed in the VM as
#                              /etc/vmlive/ca.pem, which the agent trusts beside
#                              the system roots (VMLIVE_CA_FILE, NODE_EXTRA_CA_CERTS)
# destroy stops the VM, removes its disk overlay, network link and state; with
# --delete-from-controller it also deletes the VM from the controller.
#
# State lives in $VMLIVE_STATE_DIR (default /var/lib/vmlive/vms). Needs root, and
# the repo built (npm run build; ./vmlive vm builds it): the controller calls are
# rootfs/src/vm-controller.ts, on the protocol's REST client, run from rootfs/dist.
# Exit codes: 0 done, 1 failed (everything it created is undone), 2 bad usage.
set -euo pipefail
PROG=rootfs/vm.sh
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/common.sh
. "$REPO/rootfs/lib/common.sh"
# shellcheck source=lib/vm-network.sh
. "$REPO/rootfs/lib/vm-network.sh"
# shellcheck source=lib/vm-state.sh
. "$REPO/rootfs/lib/vm-state.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
bad_usage() {
  echo "$PROG: $* (see --help)" >&2
  exit 2
}

STATE_DIR=${VMLIVE_STATE_DIR:-/var/lib/vmlive/vms}
NET_PREFIX=${VMLIVE_NET_PREFIX:-10.231}
MAX_INDEX=16383

# ---------------------------------------------------------------------------
# Controller calls: rootfs/src/vm-controller.ts (`node rootfs/dist/vm-controller.js
# --help`), which makes them with the protocol's REST client and validates every
# answer. It says what went wrong on stderr; its exit codes: 0 done, 1 refused,
# 2 bad usage, 3 unreachable, 4 not online in time, 5 the --pid process ended.

CLI=$REPO/rootfs/dist/vm-controller.js

need_cli() {
  [ -f "$CLI" ] || die "$CLI is missing: run npm run build in $REPO (./vmlive vm does)"
}

# The operator token goes in the CLI's environment, not on its command line,
# where every user of the host could read it.
vm_controller() { VMLIVE_OPERATOR_TOKEN=$OPERATOR_TOKEN node "$CLI" "$@"; }

# ---------------------------------------------------------------------------

cmd_provision() {
  local name="" runtime=container image=$REPO/rootfs/build/images/current start_url="" codec=vp8
  local memory=2048 cpus=2 wait="" guest_controller="" vm_id="" vm_token="" nat=1 dns=__host__ ca_file=""
  CONTROLLER=${VMLIVE_CONTROLLER_URL:-}
  OPERATOR_TOKEN=${VMLIVE_OPERATOR_TOKEN:-}
  while [ $# -gt 0 ]; do
    case "$1" in
      --runtime) runtime=${2:-}; shift 2 || bad_usage "--runtime needs a value" ;;
      --controller) CONTROLLER=${2:-}; shift 2 || bad_usage "--controller needs a URL" ;;
      --guest-controller) guest_controller=${2:-}; shift 2 || bad_usage "--guest-controller needs a URL" ;;
      --operator-token) OPERATOR_TOKEN=${2:-}; shift 2 || bad_usage "--operator-token needs a value" ;;
      --vm-id) vm_id=${2:-}; shift 2 || bad_usage "--vm-id needs a value" ;;
      --vm-token) vm_token=${2:-}; shift 2 || bad_usage "--vm-token needs a value" ;;
      --image) image=${2:-}; shift 2 || bad_usage "--image needs a directory" ;;
      --start-url) start_url=${2:-}; shift 2 || bad_usage "--start-url needs a URL" ;;
      --codec) codec=${2:-}; shift 2 || bad_usage "--codec needs vp8 or h264" ;;
      --memory) memory=${2:-}; shift 2 || bad_usage "--memory needs MB" ;;
      --cpus) cpus=${2:-}; shift 2 || bad_usage "--cpus needs a number" ;;
      --wait) wait=${2:-}; shift 2 || bad_usage "--wait needs seconds" ;;
      --no-nat) nat=0; shift ;;
      --dns) dns=${2:-}; shift 2 || bad_usage "--dns needs addresses" ;;
      --ca-file) ca_file=${2:-}; shift 2 || bad_usage "--ca-file needs a PEM file" ;;
      -h | --help) usage; exit 0 ;;
      -*) bad_usage "unknown option: $1" ;;
      *) [ -z "$name" ] || bad_usage "one NAME only (got $name and $1)"; name=$1; shift ;;
    esac
  done
  [ -n "$name" ] || bad_usage "provision needs a NAME"
  [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] || bad_usage "NAME must be 1-32 lowercase letters, digits and dashes: $name"
  [[ "$runtime" =~ ^(container|qemu)$ ]] || bad_usage "--runtime must be container or qemu: $runtime"
  [[ "$codec" =~ ^(vp8|h264)$ ]] || bad_usage "--codec must be vp8 or h264: $codec"
  if ! [[ "$memory" =~ ^[0-9]+$ ]] || [ "$memory" -lt 512 ]; then bad_usage "--memory must be at least 512 (MB): $memory"; fi
  if ! [[ "$cpus" =~ ^[0-9]+$ ]] || [ "$cpus" -lt 1 ]; then bad_usage "--cpus must be a positive number: $cpus"; fi
  [ -n "$wait" ] || wait=$([ "$runtime" = qemu ] && echo 300 || echo 60)
  [[ "$wait" =~ ^[0-9]+$ ]] || bad_usage "--wait must be seconds: $wait"
  [ -n "$CONTROLLER" ] || bad_usage "--controller is required (or VMLIVE_CONTROLLER_URL)"
  [ "$dns" != __host__ ] || dns=$(host_dns)
  local ns_ip
  for ns_ip in $dns; do
    [[ "$ns_ip" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || bad_usage "--dns takes IPv4 addresses: $ns_ip"
  done
  [[ "$CONTROLLER" =~ ^https?://[^/]+ ]] || bad_usage "--controller must be an http(s) URL: $CONTROLLER"
  CONTROLLER=${CONTROLLER%/}
  # Checked here, not in the guest: a bundle the agent cannot parse would stop it at every start
  # (VMLIVE_CA_FILE is validated there too), and the VM would never come online.
  if [ -n "$ca_file" ]; then
    [ -r "$ca_file" ] || bad_usage "--ca-file is not a readable file: $ca_file"
    if ! grep -q -- '-----BEGIN CERTIFICATE-----' "$ca_file" || ! openssl x509 -noout -in "$ca_file" 2>/dev/null; then
      bad_usage "--ca-file holds no valid PEM certificate: $ca_file"
    fi
  fi
  if [ -n "$vm_id" ] || [ -n "$vm_token" ]; then
    if [ -z "$vm_id" ] || [ -z "$vm_token" ]; then bad_usage "--vm-id and --vm-token go together"; fi
    # Both go into the VM's vm.env as KEY=VALUE lines. The id is the protocol's Id (protocol/src/rest.ts).
    [[ "$vm_id" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || bad_usage "--vm-id must be 1-64 characters of A-Z a-z 0-9 _ -: $vm_id"
    [[ "$vm_token" =~ ^[^[:space:]]+$ ]] || bad_usage "--vm-token must not contain whitespace"
  else
    [ -n "$OPERATOR_TOKEN" ] || bad_usage "give --operator-token (to create the VM) or --vm-id and --vm-token"
  fi

  need_root "it creates network links, mounts and VMs"
  need_cmds ip:iproute2 node:nodejs flock:util-linux nft:nftables sysctl:procps
  need_cli
  if [ "$runtime" = container ]; then
    need_cmds systemd-nspawn:systemd-container mount:mount
    grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || die "the kernel lacks overlayfs (container VMs need it)"
  else
    need_cmds qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils mkfs.ext4:e2fsprogs
    [ -c /dev/net/tun ] || die "/dev/net/tun is missing (QEMU VMs need tap links)"
  fi
  [ -d "$image" ] || die "no golden image at $image: run rootfs/build.sh first"
  image=$(realpath "$image")
  [ -f "$image/manifest.json" ] || die "$image is not a finished image (no manifest.json)"
  mkdir -p "$STATE_DIR"
  need_free_disk "$STATE_DIR" 2 "a VM's copy-on-write disk"

  local d=$STATE_DIR/$name
  exec 9>"$STATE_DIR/.lock"
  flock 9
  [ ! -e "$d" ] || die "VM $name exists already (rootfs/vm.sh destroy $name)"
  local idx
  idx=$(allocate_index)
  mkdir -p "$d"
  chmod 0700 "$d"
  local t0
  t0=$(now)
  local created_in_controller=0
  PROVISIONING=$name
  # On any failure from here on: undo everything, including the controller entry we made.
  # shellcheck disable=SC2154 # rc is assigned inside the trap string
  trap 'rc=$?; if [ -n "${PROVISIONING:-}" ]; then
          echo "$PROG: provisioning $PROVISIONING failed; undoing it" >&2
          [ "$created_in_controller" = 0 ] || vm_controller delete --controller "$CONTROLLER" --vm-id "$vm_id" ||
            warn "VM $vm_id stays registered in the controller at $CONTROLLER: delete it there"
          teardown "$PROVISIONING"; fi; exit $rc' EXIT

  local host_addr guest_addr ifname ns mac
  host_addr=$(addr "$idx" 1)
  guest_addr=$(addr "$idx" 2)
  ifname=$(host_if_name "$idx")
  ns=$(netns_name "$idx")
  mac=$(mac_for "$idx")
  cat >"$d/vm.meta" <<EOF
NAME=$name
RUNTIME=$runtime
NAT=$nat
INDEX=$idx
IMAGE=$image
HOST_ADDR=$host_addr
GUEST_ADDR=$guest_addr
HOST_IF=$ifname
CONTROLLER=$CONTROLLER
CREATED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
  flock -u 9

  # The link first: it is what the controller reachability check needs.
  if [ "$runtime" = container ]; then
    ip netns add "$ns"
    ip link add "$ifname" type veth peer name eth0 netns "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$guest_addr/30" dev eth0
    ip -n "$ns" link set eth0 address "$mac" up
    ip -n "$ns" route add default via "$host_addr"
  else
    ip tuntap add dev "$ifname" mode tap
  fi
  ip addr add "$host_addr/30" dev "$ifname"
  ip link set "$ifname" up
  firewall_setup
  [ "$nat" -eq 0 ] || nat_enable "$ifname"

  if [ -z "$guest_controller" ]; then
    guest_controller=$(sed -E "s#^(https?://)(\[[^]]*\]|[^/:]+)#\1$host_addr#" <<<"$CONTROLLER")
  fi
  guest_controller=${guest_controller%/}
  echo "GUEST_CONTROLLER=$guest_controller" >>"$d/vm.meta"
  if [ "$runtime" = container ]; then
    ip netns exec "$ns" node "$CLI" reachable --controller "$guest_controller" --timeout 5 ||
      die "the VM cannot reach the controller at $guest_controller/healthz (make it listen on $host_addr or 0.0.0.0, e.g. HOST=0.0.0.0, or pass --guest-controller)"
  else
    node "$CLI" reachable --controller "$guest_controller" --timeout 5 2>/dev/null ||
      warn "the controller does not answer at $guest_controller/healthz from the host; the VM will not come online unless it does"
  fi

  if [ -z "$vm_id" ]; then
    local created
    # On failure the CLI has said why (refused, unreachable); the trap undoes the rest.
    created=$(vm_controller create --controller "$CONTROLLER" --name "$name") || exit 1
    IFS=$'\t' read -r vm_id vm_token <<<"$created"
    created_in_controller=1
    echo "CREATED_IN_CONTROLLER=1" >>"$d/vm.meta"
  fi
  echo "VM_ID=$vm_id" >>"$d/vm.meta"

  local env_file=$d/vm.env
  (
    umask 077
    cat >"$env_file" <<EOF
# Written by rootfs/vm.sh provision for VM $name.
VMLIVE_CONTROLLER_URL=$guest_controller
VMLIVE_VM_ID=$vm_id
VMLIVE_VM_TOKEN=$vm_token
VMLIVE_CODEC=$codec
VMLIVE_NET_MAC=$mac
VMLIVE_NET_ADDR=$guest_addr/30
VMLIVE_NET_GATEWAY=$host_addr
VMLIVE_NET_DNS="$dns"
EOF
    [ -z "$start_url" ] || echo "VMLIVE_START_URL=$start_url" >>"$env_file"
    # Node reads extra CAs only at process start, so the agent's unit gets both (vm-browser-agent/src/config.ts).
    [ -z "$ca_file" ] || printf 'VMLIVE_CA_FILE=/etc/vmlive/ca.pem\nNODE_EXTRA_CA_CERTS=/etc/vmlive/ca.pem\n' >>"$env_file"
  )

  if [ "$runtime" = container ]; then
    mkdir -p "$d/upper" "$d/work" "$d/root"
    mount -t overlay "vmlive-$name" -o "lowerdir=$image/rootfs,upperdir=$d/upper,workdir=$d/work" "$d/root"
    install -D -m 0600 "$env_file" "$d/root/etc/vmlive/vm.env"
    [ -z "$ca_file" ] || install -D -m 0644 "$ca_file" "$d/root/etc/vmlive/ca.pem"
    echo "$name" >"$d/root/etc/hostname"
    rm -f "$d/root/etc/resolv.conf"
    for ns_ip in $dns; do echo "nameserver $ns_ip"; done >"$d/root/etc/resolv.conf"
    # --register=no and --keep-unit: the host's init need not be systemd.
    # CAP_NET_ADMIN, scoped to the VM's own network namespace, lets its DevTools guard (an nftables
    # table, guest/devtools-guard.nft) load; without the guard the browser does not start.
    setsid systemd-nspawn --quiet --boot --register=no --keep-unit --directory="$d/root" \
      --machine="vmlive-$name" --hostname="$name" --network-namespace-path="/run/netns/$ns" --capability=CAP_NET_ADMIN \
      --tmpfs=/tmp:mode=1777 --console=read-only --link-journal=no --resolv-conf=off \
      </dev/null >"$d/console.log" 2>&1 &
    echo $! >"$d/pid"
    # The container's init, for a last-resort kill if nspawn itself is stuck.
    local i leader=""
    for ((i = 0; i < 100; i++)); do
      leader=$(pgrep -P "$(cat "$d/pid")" | head -1 || true)
      [ -z "$leader" ] || break
      alive "$(cat "$d/pid")" || break
      sleep 0.05
    done
    [ -z "$leader" ] || echo "$leader" >"$d/leader"
  else
    qemu-img create -q -f qcow2 -F raw -b "$image/disk.ext4" "$d/disk.qcow2"
    local accel cpu
    if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then
      accel=kvm cpu=host
    else
      accel=tcg cpu=max
      warn "the CPU offers no vmx/svm: $name runs under TCG emulation (slow; a present /dev/kvm is not enough)"
    fi
    # Under emulation the GStreamer helper takes minutes to say ready; the VM agent stays online meanwhile.
    [ "$accel" = kvm ] || echo "VMLIVE_HELPER_START_TIMEOUT_S=300" >>"$env_file"
    mkdir -p "$d/config"
    install -m 0600 "$env_file" "$d/config/vm.env"
    [ -z "$ca_file" ] || install -m 0644 "$ca_file" "$d/config/ca.pem"
    mkfs.ext4 -q -F -L vmlive-cfg -d "$d/config" "$d/config.img" 4M >/dev/null
    rm -rf "$d/config"
    echo "ACCEL=$accel" >>"$d/vm.meta"
    qemu-system-x86_64 -name "vmlive-$name" -machine q35 -accel "$accel" -cpu "$cpu" -smp "$cpus" -m "$memory" \
      -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
      -append "root=/dev/vda rw console=ttyS0 systemd.hostname=$name systemd.show_status=1 systemd.status_unit_format=name panic=-1" \
      -drive "file=$d/disk.qcow2,if=virtio,format=qcow2,discard=unmap" \
      -drive "file=$d/config.img,if=virtio,format=raw,readonly=on" \
      -netdev "tap,id=net0,ifname=$ifname,script=no,downscript=no" -device "virtio-net-pci,netdev=net0,mac=$mac" \
      -device virtio-rng-pci -display none -no-reboot -serial "file:$d/console.log" \
      -monitor "unix:$d/monitor.sock,server=on,wait=off" -pidfile "$d/pid" -daemonize
  fi
  rm -f "$env_file"
  alive "$(cat "$d/pid" 2>/dev/null)" || die "$runtime for $name exited at once: $(tail -5 "$d/console.log" 2>/dev/null)"
  PROVISIONING=""
  trap - EXIT

  echo "$name: $runtime VM $vm_id booting at $guest_addr (state $d, console $d/console.log)" >&2
  if [ "$wait" -gt 0 ] && [ -n "$OPERATOR_TOKEN" ]; then
    local waited=0
    vm_controller wait-online --controller "$CONTROLLER" --vm-id "$vm_id" --timeout "$wait" --pid "$(cat "$d/pid")" ||
      waited=$?
    case "$waited" in
      0) echo "$name: online in $(elapsed "$t0") s" >&2 ;;
      4) die "$name did not come online within $wait s (still running; see $d/console.log, or destroy it)" ;;
      5) die "$name stopped while booting: $(tail -5 "$d/console.log")" ;;
      *) die "cannot tell whether $name came online (see above; it is still running: see $d/console.log, or destroy it)" ;;
    esac
  fi
  printf '%s\t%s\t%s\n' "$name" "$vm_id" "$guest_addr"
}

cmd_list() {
  local json=0
  case "${1:-}" in --json) json=1 ;; "") ;; -h | --help) usage; exit 0 ;; *) bad_usage "list takes only --json" ;; esac
  local rows=() d name pid
  for d in "$STATE_DIR"/*/; do
    [ -f "$d/vm.meta" ] || continue
    name=$(basename "$d")
    pid=$(vm_pid "$name")
    rows+=("$name|$(meta_get "$name" RUNTIME)|$([ -n "$pid" ] && echo running || echo stopped)|$(meta_get "$name" GUEST_ADDR)|$(meta_get "$name" VM_ID)|$pid|$(basename "$(meta_get "$name" IMAGE)")|$(meta_get "$name" CREATED_AT)")
  done
  if [ "$json" -eq 1 ]; then
    node -e 'const k=["name","runtime","state","address","vmId","pid","image","createdAt"];
      console.log(JSON.stringify(process.argv.slice(1).map(r=>Object.fromEntries(r.split("|").map((v,i)=>[k[i],v])))))' "${rows[@]}"
  else
    { echo "NAME|RUNTIME|STATE|ADDRESS|VM ID|PID|IMAGE|CREATED"; printf '%s\n' "${rows[@]}"; } | sed '/^$/d' |
      awk -F'|' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; f = NF }
        END { for (r = 1; r <= n; r++) { for (i = 1; i <= f; i++) printf ("%-" w[i] "s%s"), c[r, i], (i < f ? "  " : "\n") } }'
  fi
}

cmd_destroy() {
  local names=() all=0 delete=0
  OPERATOR_TOKEN=${VMLIVE_OPERATOR_TOKEN:-}
  CONTROLLER=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --all) all=1; shift ;;
      --delete-from-controller) delete=1; shift ;;
      --operator-token) OPERATOR_TOKEN=${2:-}; shift 2 || bad_usage "--operator-token needs a value" ;;
      --controller) CONTROLLER=${2:-}; shift 2 || bad_usage "--controller needs a URL" ;;
      -h | --help) usage; exit 0 ;;
      -*) bad_usage "unknown option: $1" ;;
      *) names+=("$1"); shift ;;
    esac
  done
  if [ "$all" -eq 1 ]; then
    for d in "$STATE_DIR"/*/; do [ -f "$d/vm.meta" ] && names+=("$(basename "$d")"); done
  fi
  ((${#names[@]})) || [ "$all" -eq 1 ] || bad_usage "destroy needs NAME... or --all"
  if [ "$delete" -eq 1 ]; then
    [ -n "$OPERATOR_TOKEN" ] || bad_usage "--delete-from-controller needs --operator-token"
    [ -z "$CONTROLLER" ] || [[ "$CONTROLLER" =~ ^https?://[^/]+ ]] || bad_usage "--controller must be an http(s) URL: $CONTROLLER"
  fi
  need_root "it removes network links, mounts and VMs"
  [ "$delete" -eq 0 ] || { need_cmds node:nodejs; need_cli; }
  local name failed=0
  for name in "${names[@]}"; do
    if [ ! -f "$STATE_DIR/$name/vm.meta" ]; then
      echo "$PROG: no VM named $name" >&2
      failed=1
      continue
    fi
    if [ "$delete" -eq 1 ]; then
      local vm_id url
      vm_id=$(meta_get "$name" VM_ID)
      url=${CONTROLLER:-$(meta_get "$name" CONTROLLER)}
      # A VM the controller no longer has counts as deleted; any other failure is said, and the VM goes anyway.
      if [ -n "$vm_id" ] && ! vm_controller delete --controller "$url" --vm-id "$vm_id"; then
        warn "VM $vm_id ($name) may still be registered in the controller at $url; destroying $name here anyway"
      fi
    fi
    teardown "$name"
    echo "$name: destroyed" >&2
  done
  return "$failed"
}

case "${1:-}" in
  provision) shift; cmd_provision "$@" ;;
  list) shift; cmd_list "$@" ;;
  destroy) shift; cmd_destroy "$@" ;;
  -h | --help) usage ;;
  "") usage >&2; exit 2 ;;
  *) bad_usage "unknown command: $1" ;;
esac
