/**
 * One viewer's network: its own namespace behind a veth, through a bridge in
 * a middle namespace, to the root namespace where the controller, the VM
 * agent and its helper run.
 *
 *   root ns                  middle ns (nbed<i>m)                    viewer ns (nbed<i>v)
 *   nb<i>r 10.239.<i>.1 ─veth─ nb<i>a ─[bridge nb<i>br]─ nb<i>b ─veth─ nb<i>v 10.239.<i>.2
 *   tbf (rate cap)             delay relay (AF_PACKET)                 nftables (loss, blackout)
 *
 * Everything the VM sends the viewer leaves the root namespace through nb<i>r
 * whatever candidate pair ICE picks (the viewer's only route is that veth), so
 * the three kernel mechanisms this machine has shape exactly that direction:
 *   - rate: `tbf` on nb<i>r's egress (no netem, fq_codel or tc actions here);
 *   - loss: `numgen random` drops of UDP in the viewer namespace's input hook;
 *   - blackout: everything dropped both ways in the viewer namespace;
 *   - delay and jitter: delay_relay.py, see there, while an nftables bridge
 *     rule keeps the kernel from forwarding the same UDP frames undelayed.
 * The viewer reaches the controller and pages over TCP forwarders on
 * 10.239.<i>.1 (forward.ts); nothing listens beyond the root-side veth address.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { IP, inNs, NetbedError, NFT, nftIn, run, runSync, TC } from './exec.js';

const RELAY_SCRIPT = fileURLToPath(new URL('./delay_relay.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
/** tbf's queue: a thin link's buffer holds this much time of traffic before it drops. */
export const TBF_LATENCY_MS = 100;

export interface Shape {
  /** random loss of the UDP packets sent to the viewer, % (0.01 steps) */
  lossPct?: number;
  /** added one-way delay of the UDP sent to the viewer, ms (mean) */
  delayMs?: number;
  /** ± this much around delayMs, uniform, order kept */
  jitterMs?: number;
  /** cap on everything sent to the viewer, kbit/s */
  rateKbit?: number;
}

export interface LinkCounters {
  /** UDP packets that reached the viewer namespace (before the loss rule) */
  udpIn: number;
  /** of those, dropped by the loss rule */
  lossDropped: number;
  /** packets dropped by a blackout, both ways */
  blackoutDropped: number;
  /** packets the rate cap dropped (tbf queue full) since the cap was set; 0 without a cap */
  rateDropped: number;
}

export interface LinkNames {
  index: number;
  viewerNs: string;
  middleNs: string;
  hostIf: string;
  viewerIf: string;
  hostAddress: string;
  viewerAddress: string;
}

export function linkNames(index: number): LinkNames {
  if (!Number.isInteger(index) || index < 1 || index > 250) throw new NetbedError(`bad link index ${index}`);
  return {
    index,
    viewerNs: `nbed${index}v`,
    middleNs: `nbed${index}m`,
    hostIf: `nb${index}r`,
    viewerIf: `nb${index}v`,
    hostAddress: `10.239.${index}.1`,
    viewerAddress: `10.239.${index}.2`,
  };
}

const inIf = (n: LinkNames) => `nb${n.index}a`;
const outIf = (n: LinkNames) => `nb${n.index}b`;

const NFT_VIEWER_TABLE = `
table inet netbed {
  counter udp_in {}
  counter loss_drop {}
  counter blackout_drop {}
  chain input { type filter hook input priority -10; policy accept; }
  chain output { type filter hook output priority -10; policy accept; }
}`;
const NFT_BRIDGE_TABLE = `
table bridge netbed {
  chain forward { type filter hook forward priority -10; policy accept; }
}`;

/** Builds the namespaces, links and tables of one link. Undone by `teardownLinkSync`. */
async function build(n: LinkNames): Promise<void> {
  const ipIn = (ns: string, ...args: string[]) => run(IP, ['-n', ns, ...args]);
  for (const ns of [n.middleNs, n.viewerNs]) {
    await run(IP, ['netns', 'add', ns]);
    await ipIn(ns, 'link', 'set', 'lo', 'up');
    // No IPv6: ICE would only add link-local pairs that go the same way.
    await run(...inNs(ns, '/usr/sbin/sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']));
    await run(...inNs(ns, '/usr/sbin/sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1']));
  }
  await run(IP, ['link', 'add', n.hostIf, 'type', 'veth', 'peer', 'name', inIf(n), 'netns', n.middleNs]);
  await ipIn(n.middleNs, 'link', 'add', outIf(n), 'type', 'veth', 'peer', 'name', n.viewerIf, 'netns', n.viewerNs);
  const bridge = `nb${n.index}br`;
  await ipIn(n.middleNs, 'link', 'add', bridge, 'type', 'bridge');
  for (const dev of [inIf(n), outIf(n)]) await ipIn(n.middleNs, 'link', 'set', dev, 'master', bridge, 'up');
  await ipIn(n.middleNs, 'link', 'set', bridge, 'up');
  await run('/usr/sbin/sysctl', ['-qw', `net.ipv6.conf.${n.hostIf}.disable_ipv6=1`]);
  await run(IP, ['addr', 'add', `${n.hostAddress}/30`, 'dev', n.hostIf]);
  await run(IP, ['link', 'set', n.hostIf, 'up']);
  await ipIn(n.viewerNs, 'addr', 'add', `${n.viewerAddress}/30`, 'dev', n.viewerIf);
  await ipIn(n.viewerNs, 'link', 'set', n.viewerIf, 'up');
  await ipIn(n.viewerNs, 'route', 'add', 'default', 'via', n.hostAddress);
  await nftIn(n.viewerNs, NFT_VIEWER_TABLE);
  await nftIn(n.middleNs, NFT_BRIDGE_TABLE);
}

/**
 * Removes whatever of link `n` exists, synchronously (usable from an `exit`
 * handler): processes left in its namespaces (only the bed starts any there),
 * the links, the namespaces. Returns what failed, for the caller to report.
 */
export function teardownLinkSync(n: LinkNames): string[] {
  const errors: string[] = [];
  for (const ns of [n.viewerNs, n.middleNs]) {
    const pids = runSync(IP, ['netns', 'pids', ns]);
    if (!pids.ok) continue; // no such namespace
    for (const pid of pids.out.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  // Deleting one end of a veth deletes both ends.
  for (const args of [
    ['link', 'del', n.hostIf],
    ['-n', n.middleNs, 'link', 'del', outIf(n)],
  ]) {
    const r = runSync(IP, args);
    if (!r.ok && !/Cannot find device|does not exist|No such file|Invalid argument/.test(r.err)) errors.push(r.err);
  }
  for (const ns of [n.viewerNs, n.middleNs]) {
    const r = runSync(IP, ['netns', 'del', ns]);
    if (!r.ok && !/No such file/.test(r.err)) errors.push(r.err);
  }
  return errors;
}

/** The delay relay in the middle namespace, driven over its stdin (one reply line per command). */
class DelayRelay {
  private waiters: ((line: string) => void)[] = [];
  private constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => this.waiters.shift()?.(line));
  }

  static async start(n: LinkNames): Promise<DelayRelay> {
    const [cmd, args] = inNs(n.middleNs, PYTHON, [RELAY_SCRIPT, inIf(n), outIf(n)]);
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const relay = new DelayRelay(child);
    const ready = await relay.reply(5000);
    if (ready !== 'ready') throw new NetbedError(`delay relay did not start: ${ready}`);
    return relay;
  }

  private reply(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new NetbedError('delay relay did not answer in time')), timeoutMs);
      const onExit = (code: number | null) => reject(new NetbedError(`delay relay exited (${code})`));
      this.child.once('exit', onExit);
      this.waiters.push((line) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(line);
      });
    });
  }

  async command(line: string): Promise<string> {
    const answer = this.reply(5000);
    this.child.stdin?.write(`${line}\n`);
    return answer;
  }

  stop(): void {
    this.child.stdin?.end('quit\n');
    setTimeout(() => this.child.kill('SIGKILL'), 1000).unref();
  }
}

export class Link {
  private current: Required<Shape> = { lossPct: 0, delayMs: 0, jitterMs: 0, rateKbit: 0 };
  private dark = false;

  private constructor(
    readonly names: LinkNames,
    private readonly relay: DelayRelay,
  ) {}

  /** Builds link `index`; on failure everything built so far is removed again. */
  static async create(index: number): Promise<Link> {
    const n = linkNames(index);
    try {
      await build(n);
      const link = new Link(n, await DelayRelay.start(n));
      await link.applyFilters();
      return link;
    } catch (e) {
      teardownLinkSync(n);
      throw e;
    }
  }

  get shapeNow(): Readonly<Required<Shape>> {
    return this.current;
  }

  /** Sets every aspect at once; what `s` leaves out is off. Counters restart. */
  async shape(s: Shape): Promise<void> {
    const next: Required<Shape> = {
      lossPct: s.lossPct ?? 0,
      delayMs: s.delayMs ?? 0,
      jitterMs: s.jitterMs ?? 0,
      rateKbit: s.rateKbit ?? 0,
    };
    if (next.lossPct < 0 || next.lossPct > 100) throw new NetbedError(`loss ${next.lossPct} % out of 0..100`);
    if (next.jitterMs > next.delayMs) throw new NetbedError('jitter larger than the delay would make it negative');
    const prev = this.current;
    this.current = next;
    if (next.rateKbit !== prev.rateKbit) await this.applyRate(next.rateKbit);
    const delayOn = next.delayMs > 0;
    if (delayOn) {
      // Relay first, then the drop rule: at the switch a frame may go twice (harmless), never not at all.
      await this.relay.command(`delay ${next.delayMs} ${next.jitterMs}`);
      await this.applyBridge(true);
    } else if (prev.delayMs > 0) {
      await this.applyBridge(false);
      await this.relay.command('off');
    }
    await this.applyFilters();
    await run(...inNs(this.names.viewerNs, NFT, ['reset', 'counters', 'table', 'inet', 'netbed']));
  }

  /** Drops everything to and from the viewer while on (a link that went dark), keeping the shape. */
  async blackout(on: boolean): Promise<void> {
    this.dark = on;
    await this.applyFilters();
  }

  async counters(): Promise<LinkCounters> {
    const out = await run(...inNs(this.names.viewerNs, NFT, ['-j', 'list', 'counters', 'table', 'inet', 'netbed']));
    const parsed = JSON.parse(out) as { nftables: { counter?: { name: string; packets: number } }[] };
    const get = (name: string) => parsed.nftables.find((e) => e.counter?.name === name)?.counter?.packets ?? 0;
    return {
      udpIn: get('udp_in'),
      lossDropped: get('loss_drop'),
      blackoutDropped: get('blackout_drop'),
      rateDropped: await this.rateDropped(),
    };
  }

  /** What tbf dropped: a sender above the cap overflows its queue, so drops mean "over the cap". */
  private async rateDropped(): Promise<number> {
    if (this.current.rateKbit <= 0) return 0;
    const out = await run(TC, ['-s', '-j', 'qdisc', 'show', 'dev', this.names.hostIf]);
    const parsed = JSON.parse(out) as { kind?: string; drops?: number }[];
    return parsed.find((q) => q.kind === 'tbf')?.drops ?? 0;
  }

  private applyFilters(): Promise<string> {
    const { lossPct } = this.current;
    const rules = ['flush chain inet netbed input', 'flush chain inet netbed output'];
    rules.push('add rule inet netbed input iifname "lo" accept', 'add rule inet netbed output oifname "lo" accept');
    if (this.dark) {
      rules.push('add rule inet netbed input counter name "blackout_drop" drop');
      rules.push('add rule inet netbed output counter name "blackout_drop" drop');
    }
    rules.push('add rule inet netbed input meta l4proto udp counter name "udp_in"');
    if (lossPct > 0) {
      const per10k = Math.round(lossPct * 100);
      rules.push(
        `add rule inet netbed input meta l4proto udp numgen random mod 10000 < ${per10k} counter name "loss_drop" drop`,
      );
    }
    return nftIn(this.names.viewerNs, `${rules.join('\n')}\n`);
  }

  private applyBridge(drop: boolean): Promise<string> {
    const rules = ['flush chain bridge netbed forward'];
    if (drop) {
      rules.push(
        `add rule bridge netbed forward iifname "${inIf(this.names)}" oifname "${outIf(this.names)}" ether type ip ip protocol udp drop`,
      );
    }
    return nftIn(this.names.middleNs, `${rules.join('\n')}\n`);
  }

  private async applyRate(kbit: number): Promise<void> {
    const dev = this.names.hostIf;
    if (kbit <= 0) {
      await run(TC, ['qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined); // none there: fine
      return;
    }
    // Bucket: 10 ms at the rate, at least two full frames; queue: TBF_LATENCY_MS of traffic.
    const burst = Math.max(3028, Math.round((kbit * 1000) / 8 / 100));
    await run(TC, [
      'qdisc',
      'replace',
      'dev',
      dev,
      'root',
      'tbf',
      'rate',
      `${kbit}kbit`,
      'burst',
      String(burst),
      'latency',
      `${TBF_LATENCY_MS}ms`,
    ]);
  }

  close(): string[] {
    this.relay.stop();
    return teardownLinkSync(this.names);
  }
}
