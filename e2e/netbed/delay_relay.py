"""Delay and jitter for the UDP a bridge forwards one way (the test bed's netem; this kernel has none).

Runs in the bed's middle namespace, where a Linux bridge joins IN_IF (towards the VM) and OUT_IF
(towards the viewer). While delay is on, an nftables bridge rule (netbed/link.ts) drops the IPv4
UDP frames the bridge would forward IN_IF -> OUT_IF, and this process, which sees every frame
arriving on IN_IF through an AF_PACKET tap (taps run before the bridge), sends each such frame out
of OUT_IF after its own random delay. Everything else (ARP, TCP, the other direction) stays on the
kernel bridge, undelayed.

Delay model: uniform in [mean - jitter, mean + jitter] per packet, order kept (a packet never
leaves before the one ahead of it, as on a real path that queues rather than reorders).

stdin, one command per line: `delay <mean_ms> <jitter_ms>`, `off`, `quit`. stdout: `ready`, then
`ok <command>` after each one and `stats <forwarded> <dropped>` for `stats`.
"""
import heapq
import os
import random
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ETHERTYPE_IPV4 = b'\x08\x00'
UDP = 17
QUEUE_LIMIT = 20000  # frames held at once; beyond it frames are dropped (and counted)


def is_ipv4_udp(frame: bytes) -> bool:
    # Untagged Ethernet II: the same match as the nft rule (`ether type ip ip protocol udp`).
    return len(frame) >= 42 and frame[12:14] == ETHERTYPE_IPV4 and frame[23] == UDP


def without_udp_checksum(frame: bytes) -> bytes:
    """A locally sent packet crosses the veth with its UDP checksum still to be filled in
    (checksum offload), and the tap sees it that way; re-sent as is, the viewer's kernel would drop
    it. Over IPv4 a zero checksum means none (RFC 768), and SRTP authenticates the payload anyway."""
    ihl = (frame[14] & 0x0f) * 4
    at = 14 + ihl + 6
    return frame[:at] + b'\x00\x00' + frame[at + 2:]


def main() -> int:
    in_if, out_if = sys.argv[1], sys.argv[2]
    tap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    tap.bind((in_if, 0))
    tap.setblocking(False)
    out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    out.bind((out_if, 0))
    try:
        os.nice(-5)  # the bed's timing should not suffer first when the machine is busy
    except OSError:
        pass
    mean_s, jitter_s, enabled = 0.0, 0.0, False
    queue = []  # (due, seq, frame)
    seq = 0
    last_due = 0.0
    forwarded = dropped = 0
    stdin = sys.stdin.fileno()
    print('ready', flush=True)
    pending = b''
    while True:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, frame = heapq.heappop(queue)
            try:
                out.send(frame)
                forwarded += 1
            except OSError:
                dropped += 1
        timeout = max(0.0, queue[0][0] - now) if queue else 1.0
        readable, _, _ = select.select([tap, stdin], [], [], timeout)
        if tap in readable:
            while True:
                try:
                    frame, addr = tap.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING or not enabled or not is_ipv4_udp(frame):
                    continue
                if len(queue) >= QUEUE_LIMIT:
                    dropped += 1
                    continue
                arrival = time.monotonic()
                due = max(last_due, arrival + max(0.0, random.uniform(mean_s - jitter_s, mean_s + jitter_s)))
                last_due = due
                seq += 1
                heapq.heappush(queue, (due, seq, without_udp_checksum(frame)))
        if stdin in readable:
            chunk = os.read(stdin, 4096)
            if not chunk:
                return 0
            pending += chunk
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                words = line.decode().split()
                if not words:
                    continue
                if words[0] == 'quit':
                    return 0
                if words[0] == 'delay':
                    mean_s, jitter_s, enabled = float(words[1]) / 1000, float(words[2]) / 1000, True
                elif words[0] == 'off':
                    enabled = False  # frames already queued still leave on time
                elif words[0] == 'stats':
                    print('stats %d %d' % (forwarded, dropped), flush=True)
                    continue
                print('ok %s' % words[0], flush=True)


if __name__ == '__main__':
    sys.exit(main())
