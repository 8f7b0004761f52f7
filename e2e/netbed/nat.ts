/**
 * Two private networks behind two NATs, and a "public" segment between them
 * where coturn and the controller's forwarders listen (issue 15). Needs root.
 *
 *   wtn-vm 10.71.0.2 ── wtn-vmr (masquerade) 203.0.113.162 ── .161 ┐
 *                                                               root ns: wtnpub 203.0.113.150 (coturn)
 *                                                                               203.0.113.151 (controller)
 *   wtn-vw 192.168.72.2 ── wtn-vwr (masquerade) 203.0.113.166 ── .165 ┘
 *
 * Each router knows only its private /24 and a route to the two public
 * servers (203.0.113.150/31): there is no route between the two private
 * sides, nor between the routers, so a VM and a viewer meet through the relay
 * or not at all. The viewer's router also holds the viewer's firewall (its
 * forward hook), which `firewall()` rewrites in one nft transaction.
 *
 * Names are prefixed `wtn`; `close()` and an `exit` hook delete them, and a
 * bed that opens first removes what a crashed run left.
 */
import { IP, inNs, NetbedError, nftIn, run, runSync } from './exec.js';

export const TURN_ADDRESS = '203.0.113.150';
export const CONTROLLER_ADDRESS = '203.0.113.151';
const PUBLIC_IF = 'wtnpub';

interface Side {
  /** the host's namespace (the VM agent's, or the viewer browser's) */
  ns: string;
  /** its router's namespace */
  router: string;
  address: string;
  /** the router's public address: what coturn sees the side as */
  publicAddress: string;
}

export const VM_SIDE: Side = { ns: 'wtn-vm', router: 'wtn-vmr', address: '10.71.0.2', publicAddress: '203.0.113.162' };
export const VIEWER_SIDE: Side = {
  ns: 'wtn-vw',
  router: 'wtn-vwr',
  address: '192.168.72.2',
  publicAddress: '203.0.113.166',
};

/**
 * What the viewer's firewall lets through: everything; no UDP at all (TURN over
 * TCP or TLS still works); only TLS to coturn (`turns:`); nothing to coturn.
 */
export type ViewerFirewall = 'open' | 'no-udp' | 'tls-only' | 'no-turn';

export interface NatBed {
  firewall(mode: ViewerFirewall, tlsPort?: number): Promise<void>;
  /**
   * Routes the two routers to each other (through the root namespace), or takes that away:
   * with it, two STUN-learned (srflx) addresses can meet directly through both NATs.
   */
  directRoute(on: boolean): Promise<void>;
  /**
   * Moves the viewer's router to another public address (VIEWER_MOVED_ADDRESS), or back: what a
   * viewer sees when its network changes (Wi-Fi to LTE). The kernel drops the masquerade's
   * connection tracking for the address that goes away (nf_nat_masquerade's inetaddr notifier),
   * so every flow through the old address dies at once, as in a real change of network; what
   * the viewer sends afterwards leaves from the new address, a new 5-tuple to coturn. Drops the
   * direct routes (directRoute).
   */
  moveViewer(moved: boolean): Promise<void>;
  close(): void;
}

/** The viewer router's public address after moveViewer(true), outside both /30s. */
export const VIEWER_MOVED_ADDRESS = '203.0.113.170';

const NAMESPACES = [VM_SIDE.ns, VM_SIDE.router, VIEWER_SIDE.ns, VIEWER_SIDE.router];

function teardownSync(): string[] {
  const errors: string[] = [];
  for (const ns of NAMESPACES) {
    if (runSync(IP, ['netns', 'pids', ns]).ok) {
      const r = runSync(IP, ['netns', 'delete', ns]);
      if (!r.ok) errors.push(`${ns}: ${r.err}`);
    }
  }
  if (runSync(IP, ['link', 'show', PUBLIC_IF]).ok) {
    const r = runSync(IP, ['link', 'delete', PUBLIC_IF]);
    if (!r.ok) errors.push(`${PUBLIC_IF}: ${r.err}`);
  }
  return errors;
}

const inside = (ns: string, args: string[]) => run(IP, ['-n', ns, ...args]);

async function buildSide(side: Side, name: 'vm' | 'vw', subnet: string, rootAddress: string): Promise<void> {
  const up = `wtn${name}u`; // router ⇄ root
  const lan = `wtn${name}l`; // host ⇄ router
  await run(IP, ['netns', 'add', side.router]);
  await run(IP, ['netns', 'add', side.ns]);
  await run(IP, ['link', 'add', `${up}0`, 'type', 'veth', 'peer', 'name', `${up}1`, 'netns', side.router]);
  await run(IP, ['addr', 'add', `${rootAddress}/30`, 'dev', `${up}0`]);
  await run(IP, ['link', 'set', `${up}0`, 'up']);
  await inside(side.router, ['link', 'set', 'lo', 'up']);
  await inside(side.router, ['addr', 'add', `${side.publicAddress}/30`, 'dev', `${up}1`]);
  await inside(side.router, ['link', 'set', `${up}1`, 'up']);
  await inside(side.router, ['route', 'add', `${TURN_ADDRESS}/31`, 'via', rootAddress]);
  await inside(side.router, ['link', 'add', `${lan}0`, 'type', 'veth', 'peer', 'name', `${lan}1`, 'netns', side.ns]);
  await inside(side.router, ['addr', 'add', `${subnet}.1/24`, 'dev', `${lan}0`]);
  await inside(side.router, ['link', 'set', `${lan}0`, 'up']);
  await inside(side.ns, ['link', 'set', 'lo', 'up']);
  await inside(side.ns, ['addr', 'add', `${side.address}/24`, 'dev', `${lan}1`]);
  await inside(side.ns, ['link', 'set', `${lan}1`, 'up']);
  await inside(side.ns, ['route', 'add', 'default', 'via', `${subnet}.1`]);
  const [cmd, args] = inNs(side.router, '/usr/sbin/sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await run(cmd, args);
  await nftIn(
    side.router,
    [
      'table ip wtnnat {',
      '  chain post {',
      '    type nat hook postrouting priority srcnat;',
      `    oifname "${up}1" masquerade`,
      '  }',
      '}',
      'table inet wtnfw {',
      '  chain gate {',
      '    type filter hook forward priority filter;',
      '  }',
      // As home routers do: nothing unsolicited from outside reaches the router itself. Without
      // this, a peer's first hole-punching packet (arriving before ours went out) is tracked as a
      // new inbound flow, and our own packet to that peer then gets another port (a symmetric NAT).
      '  chain guard {',
      '    type filter hook input priority filter;',
      `    iifname "${up}1" ct state new drop`,
      '  }',
      '}',
    ].join('\n'),
  );
}

let openBed: (() => void) | null = null;
let hooked = false;

export async function openNatBed(): Promise<NatBed> {
  if (process.getuid?.() !== 0) throw new NetbedError('the NAT bed needs root (network namespaces, nftables)');
  if (openBed) throw new NetbedError('one NAT bed at a time (its names are fixed)');
  const leftovers = teardownSync();
  if (leftovers.length) throw new NetbedError(`could not remove a previous bed: ${leftovers.join('; ')}`);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    openBed = null;
    for (const err of teardownSync()) console.error(`nat bed: ${err}`);
  };
  openBed = close;
  if (!hooked) {
    hooked = true;
    process.on('exit', () => openBed?.());
  }
  try {
    // A veth pair standing in for a dummy interface (this kernel has no dummy module): the
    // public servers' addresses on an interface of their own, gone when it is deleted.
    await run(IP, ['link', 'add', PUBLIC_IF, 'type', 'veth', 'peer', 'name', `${PUBLIC_IF}x`]);
    await run(IP, ['link', 'set', `${PUBLIC_IF}x`, 'up']);
    await run(IP, ['addr', 'add', `${TURN_ADDRESS}/32`, 'dev', PUBLIC_IF]);
    await run(IP, ['addr', 'add', `${CONTROLLER_ADDRESS}/32`, 'dev', PUBLIC_IF]);
    await run(IP, ['link', 'set', PUBLIC_IF, 'up']);
    await buildSide(VM_SIDE, 'vm', '10.71.0', '203.0.113.161');
    await buildSide(VIEWER_SIDE, 'vw', '192.168.72', '203.0.113.165');
  } catch (e) {
    close();
    throw e;
  }
  return {
    async firewall(mode, tlsPort) {
      const turn = `ip daddr ${TURN_ADDRESS}`;
      const rules: Record<ViewerFirewall, string[]> = {
        open: [],
        'no-udp': ['meta l4proto udp drop'],
        'tls-only': ['meta l4proto udp drop', `${turn} tcp dport != ${tlsPort ?? 0} drop`],
        'no-turn': [`${turn} drop`],
      };
      if (mode === 'tls-only' && !tlsPort) throw new NetbedError('tls-only needs the TLS port');
      await nftIn(
        VIEWER_SIDE.router,
        ['flush chain inet wtnfw gate', ...rules[mode].map((r) => `add rule inet wtnfw gate ${r}`)].join('\n'),
      );
    },
    async directRoute(on) {
      const verb = on ? 'replace' : 'delete';
      for (const [side, other, via] of [
        [VM_SIDE, VIEWER_SIDE, '203.0.113.161'],
        [VIEWER_SIDE, VM_SIDE, '203.0.113.165'],
      ] as const) {
        const r = inside(side.router, ['route', verb, `${other.publicAddress}/32`, 'via', via]);
        // Deleting a route that is not there is what "off" asks for already.
        await (on ? r : r.catch(() => undefined));
      }
    },
    async moveViewer(moved) {
      const router = VIEWER_SIDE.router;
      const [gone, next] = moved
        ? [`${VIEWER_SIDE.publicAddress}/30`, `${VIEWER_MOVED_ADDRESS}/32`]
        : [`${VIEWER_MOVED_ADDRESS}/32`, `${VIEWER_SIDE.publicAddress}/30`];
      const via = '203.0.113.165';
      // The root namespace routes the new address back to the router first, so no reply is lost.
      if (moved) await run(IP, ['route', 'replace', `${VIEWER_MOVED_ADDRESS}/32`, 'dev', 'wtnvwu0']);
      await inside(router, ['addr', 'add', next, 'dev', 'wtnvwu1']);
      // Deleting the old address takes its routes along (and flushes its masqueraded flows).
      await inside(router, ['addr', 'del', gone, 'dev', 'wtnvwu1']);
      if (moved) {
        await inside(router, ['route', 'replace', `${via}/32`, 'dev', 'wtnvwu1', 'src', VIEWER_MOVED_ADDRESS]);
        await inside(router, ['route', 'replace', `${TURN_ADDRESS}/31`, 'via', via, 'src', VIEWER_MOVED_ADDRESS]);
      } else {
        await inside(router, ['route', 'replace', `${TURN_ADDRESS}/31`, 'via', via]);
        await run(IP, ['route', 'del', `${VIEWER_MOVED_ADDRESS}/32`, 'dev', 'wtnvwu0']).catch(() => undefined);
      }
    },
    close,
  };
}
