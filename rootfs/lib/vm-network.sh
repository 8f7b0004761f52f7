# shellcheck shell=bash
# Sourced by rootfs/vm.sh: each VM's link and addresses, and the host's forwarding.
# Every name and address derives from the VM's index; the caller sets NET_PREFIX,
# MAX_INDEX and STATE_DIR, and sources lib/common.sh first.

# addr INDEX HOSTPART — the HOSTPART-th address of the index's /30.
addr() {
  local off=$(($1 * 4 + $2))
  echo "$NET_PREFIX.$((off / 256)).$((off % 256))"
}
netns_name() { echo "vmlive-$1"; }
host_if_name() { echo "vmlive$1"; }
mac_for() { printf '52:54:00:e7:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }

# Lowest index no VM uses and whose link name and namespace are free on this host.
allocate_index() {
  local i used
  used=$(cat "$STATE_DIR"/*/vm.meta 2>/dev/null | sed -n 's/^INDEX=//p' | sort -n)
  for ((i = 1; i <= MAX_INDEX; i++)); do
    grep -qx "$i" <<<"$used" && continue
    ip link show "$(host_if_name "$i")" >/dev/null 2>&1 && continue
    [ -e "/run/netns/$(netns_name "$i")" ] && continue
    echo "$i"
    return 0
  done
  die "no free VM index (all $MAX_INDEX /30 links in $NET_PREFIX.0.0/16 are taken)"
}

# ---------------------------------------------------------------------------
# Forwarding: one nftables table for every VM on the host, made with the first
# VM and removed with the last vmlive link.

firewall_setup() {
  nft list table ip vmlive >/dev/null 2>&1 && return 0
  nft -f - <<EOF
table ip vmlive {
  set nat_ifs {
    type ifname
    comment "host ends of the links of VMs provisioned with NAT"
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    iifname @nat_ifs oifname != "vmlive*" masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "vmlive*" oifname "vmlive*" drop comment "VMs never reach each other"
    iifname @nat_ifs accept
    iifname "vmlive*" drop comment "a VM provisioned with --no-nat reaches the host only"
    oifname "vmlive*" ct state established,related accept
    oifname "vmlive*" drop comment "nothing outside opens a connection to a VM"
  }
}
EOF
}

nat_enable() {
  sysctl -qw net.ipv4.ip_forward=1
  nft add element ip vmlive nat_ifs "{ $1 }"
}

firewall_release() {
  local ifname=$1
  command -v nft >/dev/null 2>&1 || return 0
  nft list table ip vmlive >/dev/null 2>&1 || return 0
  [ -z "$ifname" ] || nft delete element ip vmlive nat_ifs "{ $ifname }" 2>/dev/null || true
  ip -o link show | grep -qE '^[0-9]+: vmlive[0-9]+[@:]' && return 0
  nft delete table ip vmlive
}

# The host's IPv4 name servers, minus loopback ones (a stub resolver on the
# host's lo is not reachable from a VM).
host_dns() {
  sed -n 's/^nameserver[[:space:]]\{1,\}\([0-9.]*\)[[:space:]]*$/\1/p' /etc/resolv.conf 2>/dev/null |
    grep -vE '^(127\.|$)' | head -3 | tr '\n' ' ' | sed 's/ $//'
}
