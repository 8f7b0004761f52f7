/**
 * What each path of the fallback chain costs a viewer: time to first frame and
 * glass-to-glass latency, direct vs relayed through coturn over UDP, TCP and
 * TLS, and coturn's CPU per relayed 720p stream. The topology is the NAT e2e
 * test's (e2e/netbed/nat.ts): the VM behind one NAT, the viewer behind
 * another, coturn and the controller on the public segment; the local sandbox
 * shows the clock page.
 *
 *   direct     the routers can reach each other and coturn also answers STUN:
 *              ICE pairs the two NAT addresses (srflx/prflx), no relay
 *   relay/udp  no route between the NATs: through coturn
 *   relay/tcp  the viewer's side drops all UDP
 *   relay/tls  the viewer's side lets only TLS to coturn through (turns:)
 *
 * For every path, `--runs` fresh viewer sessions one after another, each: TTFF
 * (createOffer → first decoded clock frame), then a `--seconds` window of
 * latency samples, coturn's CPU (/proc/<pid>/stat) over the same window.
 * Prints medians over the runs. A measurement: exit 0 once every run was
 * measured, 1 when a viewer got no frame or took the wrong path, 3 when not root.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Coturn, makeTestCertificate, startCoturn } from '../e2e/coturn.js';
import { launchBrowserInNamespace } from '../e2e/netbed/browser.js';
import { type Forwarder, forwardTcp } from '../e2e/netbed/forward.js';
import {
  CONTROLLER_ADDRESS,
  type NatBed,
  openNatBed,
  TURN_ADDRESS,
  VIEWER_SIDE,
  type ViewerFirewall,
  VM_SIDE,
} from '../e2e/netbed/nat.js';
import { netbedUnavailable } from '../e2e/netbed/netbed.js';
import { freePort } from '../vm-browser-agent/src/sandbox/free-port.js';
import { type LocalSystem, startLocalSystem } from '../vm-browser-agent/src/sandbox/local-system.js';
import { parseArgs } from './lib/args.js';
import { ProcSampler } from './lib/proc.js';
import { EXIT, fmt, machineLine, PrerequisiteError, runMain, table, writeJson } from './lib/report.js';
import { NoFrameError, runWindow } from './lib/run.js';
import { type PageServer, startPageServer } from './lib/server.js';
import { median, summarize } from './lib/stats.js';
import { openWebrtcViewer } from './lib/viewers.js';

const opts = parseArgs(
  'turn-paths',
  'TTFF and glass-to-glass latency direct vs relayed through coturn (UDP, TCP, TLS) across two NATs\n' +
    '(e2e/netbed/nat.ts), and coturn CPU per relayed 720p stream. Local sandbox only; needs root.',
  {
    paths: { type: 'list', default: ['direct', 'relay/udp', 'relay/tcp', 'relay/tls'], help: 'paths to measure' },
    runs: { type: 'number', default: 3, help: 'fresh viewer sessions per path' },
    seconds: { type: 'number', default: 10, help: 'latency window per run, s' },
    warmup: { type: 'number', default: 2, help: 'seconds after the first frame before the window opens' },
    json: { type: 'string', help: 'write every run to this JSON file' },
  },
);

type PathName = 'direct' | 'relay/udp' | 'relay/tcp' | 'relay/tls';
const PATHS: Record<PathName, { firewall: ViewerFirewall; direct: boolean }> = {
  direct: { firewall: 'open', direct: true },
  'relay/udp': { firewall: 'open', direct: false },
  'relay/tcp': { firewall: 'no-udp', direct: false },
  'relay/tls': { firewall: 'tls-only', direct: false },
};

interface Run {
  path: PathName;
  ttffMs: number | null;
  latencyP50: number;
  samples: number;
  coturnCpuPct: number;
  pair: string;
}

function isPath(p: string): p is PathName {
  return p in PATHS;
}

/** The pair a path must use: nothing relayed for direct, else the viewer's allocation over the named transport. */
function pathMatches(path: PathName, pair: { local: string; remote: string; relayProtocol: string }): boolean {
  if (path === 'direct') return pair.local !== 'relay' && pair.remote !== 'relay';
  if (path === 'relay/udp') return pair.local === 'relay' || pair.remote === 'relay';
  return pair.local === 'relay' && pair.relayProtocol === path.slice('relay/'.length);
}

async function measureRun(
  path: PathName,
  ctx: {
    browser: import('playwright-core').Browser;
    server: PageServer;
    pageOrigin: string;
    sys: LocalSystem;
    turn: Coturn;
  },
): Promise<Run> {
  const target = {
    controllerUrl: ctx.sys.controllerUrl,
    vmId: ctx.sys.vmId,
    token: await ctx.sys.mintViewerToken('view'),
  };
  const viewer = await openWebrtcViewer(ctx.browser, ctx.server, target, {
    clockOffsetMs: 0,
    viewportW: 1280,
    pageOrigin: ctx.pageOrigin,
  });
  try {
    const cpu = new ProcSampler({ coturn: { pids: [ctx.turn.pid] } });
    let coturnCpuPct = 0;
    const r = await runWindow(viewer, {
      warmupMs: opts.warmup * 1000,
      durationMs: opts.seconds * 1000,
      firstFrameTimeoutMs: 40_000,
      timeoutMs: (opts.warmup + opts.seconds + 60) * 1000,
      onWindowStart: () => {
        cpu.sample();
      },
      onWindowEnd: () => {
        coturnCpuPct = cpu.sample().coturn?.cpuPct ?? 0;
      },
    });
    const st = await viewer.stats();
    if (!st) throw new NoFrameError('the viewer has no peer connection');
    const pair = { local: st.localCandidateType, remote: st.remoteCandidateType, relayProtocol: st.relayProtocol };
    const label = `${pair.local}/${pair.remote} ${st.candidateProtocol}${pair.relayProtocol ? ` via ${pair.relayProtocol}` : ''}`;
    if (!pathMatches(path, pair)) throw new NoFrameError(`${path}: the viewer took ${label}`);
    const lat = summarize(r.samples.map((s) => s.latency));
    return { path, ttffMs: r.ttffMs, latencyP50: lat.p50, samples: lat.n, coturnCpuPct, pair: label };
  } finally {
    await viewer.stop();
  }
}

async function main(): Promise<number> {
  const why = netbedUnavailable();
  if (why) throw new PrerequisiteError(why);
  const paths = opts.paths.filter(isPath);
  if (paths.length !== opts.paths.length)
    throw new PrerequisiteError(`--paths: one of ${Object.keys(PATHS).join(', ')}`);
  const runs: Run[] = [];
  const server = await startPageServer();
  const certDir = mkdtempSync(join(tmpdir(), 'vmlive-turn-cert-'));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(certDir, { recursive: true, force: true })];
  try {
    const bed: NatBed = await openNatBed();
    cleanups.push(() => bed.close());
    const turn = await startCoturn({ address: TURN_ADDRESS, tls: makeTestCertificate(certDir, TURN_ADDRESS) });
    cleanups.push(() => turn.stop());
    const port = await freePort();
    const forwards: Forwarder[] = [
      await forwardTcp(CONTROLLER_ADDRESS, `http://127.0.0.1:${port}`),
      await forwardTcp(CONTROLLER_ADDRESS, server.origin),
    ];
    cleanups.push(async () => {
      for (const f of forwards) await f.close();
    });
    const [controllerFwd, pageFwd] = forwards as [Forwarder, Forwarder];
    console.error('turn-paths: starting the local sandbox (the agent behind the VM-side NAT)…');
    const sys = await startLocalSystem({
      port,
      logDir: mkdtempSync(join(tmpdir(), 'vmlive-turn-paths-logs-')),
      startUrl: server.pageUrl('clock.html', { mode: 'static' }),
      controllerEnv: {
        // coturn answers STUN too: what gives both sides their NAT address for the direct path.
        VMLIVE_ICE_SERVERS: JSON.stringify([{ urls: `stun:${TURN_ADDRESS}:${turn.port}` }]),
        VMLIVE_TURN_URLS: turn.urls.join(','),
        VMLIVE_TURN_SECRET: turn.secret,
        VMLIVE_TURN_TTL_S: '600',
      },
      vmNetns: { name: VM_SIDE.ns, controllerUrl: controllerFwd.url },
    });
    cleanups.push(() => sys.stop());
    server.setController(sys.controllerUrl);
    const launched = await launchBrowserInNamespace(VIEWER_SIDE.ns, ['--ignore-certificate-errors']);
    cleanups.push(async () => {
      await launched.browser.close().catch(() => undefined);
      launched.cleanup();
    });
    const ctx = { browser: launched.browser, server, pageOrigin: pageFwd.url.replace(/\/$/, ''), sys, turn };
    for (const path of paths) {
      await bed.firewall(PATHS[path].firewall, turn.tlsPort ?? 0);
      await bed.directRoute(PATHS[path].direct);
      for (let i = 0; i < opts.runs; i++) {
        console.error(`turn-paths: ${path}, run ${i + 1}/${opts.runs}…`);
        runs.push(await measureRun(path, ctx));
      }
    }
  } catch (e) {
    if (e instanceof NoFrameError) {
      console.error(`turn-paths: FAIL — ${e.message}`);
      return EXIT.failed;
    }
    throw e;
  } finally {
    for (const c of cleanups.reverse()) await c();
    await server.close();
  }

  const date = new Date().toISOString();
  console.log(`\nturn-paths: two NATs (e2e/netbed/nat.ts), static clock page, ${date}, ${machineLine()}`);
  console.log(`medians over ${opts.runs} fresh sessions per path; latency window ${opts.seconds} s each\n`);
  const of = (p: PathName, f: (r: Run) => number | null) =>
    median(runs.filter((r) => r.path === p).flatMap((r) => (f(r) === null ? [] : [f(r) as number])));
  console.log(
    table(
      ['path', 'pair (viewer/VM)', 'TTFF ms', 'latency p50 ms', 'coturn CPU %'],
      paths.map((p) => [
        p,
        runs.find((r) => r.path === p)?.pair ?? '-',
        fmt(of(p, (r) => r.ttffMs)),
        fmt(of(p, (r) => r.latencyP50)),
        fmt(
          of(p, (r) => r.coturnCpuPct),
          1,
        ),
      ]),
    ),
  );
  console.log('\nTTFF: createOffer → first decoded clock frame. coturn CPU: % of one core over the latency window.');
  if (opts.json) writeJson(opts.json, { date, machine: machineLine(), settings: opts, runs });
  return EXIT.ok;
}

runMain('turn-paths', main);
