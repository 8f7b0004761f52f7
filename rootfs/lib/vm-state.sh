# shellcheck shell=bash
# Sourced by rootfs/vm.sh: a VM's state directory ($STATE_DIR/NAME: vm.meta, pid,
# overlay or qcow2), its process, and its teardown. The caller sets STATE_DIR and
# sources lib/common.sh and lib/vm-network.sh first.

meta_get() { env_get "$STATE_DIR/$1/vm.meta" "$2"; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# The VM's nspawn or QEMU process, if it still runs. Its command line names the VM,
# so a pid reused after a host reboot is not mistaken for it.
vm_pid() {
  local d=$STATE_DIR/$1 pid
  pid=$(cat "$d/pid" 2>/dev/null || true)
  if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "vmlive-$1 "; then
    echo "$pid"
  fi
  return 0
}

# ---------------------------------------------------------------------------
# Teardown: every step tolerates a half-made VM, so it serves destroy and a
# failed provision alike.

teardown() {
  local name=$1 d=$STATE_DIR/$1 pid idx runtime i
  [ -d "$d" ] || return 0
  idx=$(meta_get "$name" INDEX)
  runtime=$(meta_get "$name" RUNTIME)
  pid=$(vm_pid "$name")
  if [ -n "$pid" ]; then
    # nspawn turns SIGTERM into a clean poweroff of the container; QEMU exits.
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      warn "$name did not stop in 20 s; killing it"
      local leader
      leader=$(cat "$d/leader" 2>/dev/null || true)
      [ -z "$leader" ] || kill -KILL "$leader" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    fi
  fi
  if [ "$runtime" = container ]; then
    unmount_below "$d/root"
  fi
  if [ -n "$idx" ]; then
    [ ! -e "/run/netns/$(netns_name "$idx")" ] || ip netns delete "$(netns_name "$idx")" 2>/dev/null || true
    ! ip link show "$(host_if_name "$idx")" >/dev/null 2>&1 || ip link delete "$(host_if_name "$idx")" 2>/dev/null || true
  fi
  rm -rf "$d"
  firewall_release "$([ -z "$idx" ] || host_if_name "$idx")"
}
