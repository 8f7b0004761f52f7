/**
 * Brings up a whole vmlive system on this machine: the controller, one sandbox
 * VM (Xvfb + headful Chromium + the agent with its GStreamer helper) registered
 * at it, and the built viewer served by the controller. Used by `./vmlive start`,
 * the end-to-end tests and the benchmark scripts. Each part is a real process;
 * they are stopped in reverse order.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from './free-port.js';
import { asOwnHost } from './priorities.js';
import { type SandboxBrowser, startSandboxBrowser } from './sandbox-browser.js';
import { SandboxStartError, startXvfb, stopChild, type XvfbHandle } from './xvfb.js';

const IP = '/usr/sbin/ip';
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEMO_PAGE_URL = pathToFileURL(join(REPO_ROOT, 'vm-browser-agent/sandbox-pages/demo.html')).href;

export interface LocalSystemOptions {
  /** Controller port; 0 picks a free one. */
  port?: number;
  host?: string;
  operatorToken?: string;
  startUrl?: string;
  codec?: 'vp8' | 'h264';
  width?: number;
  height?: number;
  fps?: number;
  /** Where child processes' logs go (one file each). */
  logDir?: string;
  /** Extra env for the agent (and through it the helper). */
  agentEnv?: Record<string, string>;
  /** Port of the VM agent's CDP gateway, the automation's entry; 0 (default) picks a free one. */
  cdpPort?: number;
  logLevel?: string;
  /**
   * Extra env for the controller, e.g. VMLIVE_STORE=redis://… and a shared VMLIVE_SIGNING_KEY_FILE
   * so that other controllers (started by the caller) share its state, or VMLIVE_TURN_URLS/SECRET.
   */
  controllerEnv?: Record<string, string>;
  /**
   * Runs the agent (and so its helper, whose media then leaves from there) in this network
   * namespace, reaching the controller at `controllerUrl`: a VM behind its own network
   * (e2e/netbed/nat.ts). Xvfb and the sandbox browser stay in the root namespace (X over its
   * filesystem socket), so there is no CDP gateway: its upstream is loopback in another namespace.
   */
  vmNetns?: { name: string; controllerUrl: string };
  /**
   * A PEM CA bundle that signs the controller's certificate (VMLIVE_TLS_* in controllerEnv): the
   * agent trusts it (VMLIVE_CA_FILE and NODE_EXTRA_CA_CERTS, which Node reads only at start), and so
   * do this process's own calls to the controller.
   */
  caFile?: string;
}

export interface LocalSystem {
  controllerUrl: string;
  operatorToken: string;
  vmId: string;
  vmToken: string;
  display: string;
  /** The VM agent's CDP gateway: where an automation connects (`chromium.connectOverCDP(cdpUrl)`); not served with `vmNetns`. */
  cdpUrl: string;
  /** The sandbox browser's own DevTools, behind the gateway: tests read the page through it, automations never use it. */
  sandboxCdpUrl: string;
  logDir: string;
  mintViewerToken(role: 'view' | 'control', ttlSeconds?: number): Promise<string>;
  viewerUrl(role: 'view' | 'control', ttlSeconds?: number): Promise<string>;
  pids(): { controller?: number; agent?: number; helper?: number; sandboxChromium?: number; xvfb?: number };
  /** SIGKILLs the GStreamer helper, as a crash would; the agent restarts it. */
  killHelper(): Promise<number>;
  /** Resolves once the agent has a ready helper again (VM heartbeat says so). */
  waitHelperUp(timeoutMs?: number): Promise<void>;
  /** SIGKILLs the controller, as a crash would (the agent keeps retrying it). */
  killController(): Promise<void>;
  /** Starts the controller again on the same address (after killController). */
  restartController(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalSystem(opts: LocalSystemOptions = {}): Promise<LocalSystem> {
  const width = opts.width ?? 1280;
  const height = opts.height ?? 720;
  const logDir = opts.logDir ?? join(REPO_ROOT, '.vmlive', 'logs');
  mkdirSync(logDir, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const controllerOpts = {
      port: opts.port ?? 0,
      host: opts.host ?? '127.0.0.1',
      operatorToken: opts.operatorToken,
      logFile: join(logDir, 'controller.log'),
      logLevel: opts.logLevel,
      env: opts.controllerEnv ?? {},
    };
    let controller = await startControllerProcess(controllerOpts);
    cleanups.push(() => stopChild(controller.child));
    const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
    const api = operatorApi(controller.url, controller.operatorToken, ca);
    const vm = (await api('POST', '/api/vms', { name: 'sandbox' })) as { vmId: string; vmToken: string };

    const xvfb: XvfbHandle = await startXvfb({ width, height });
    cleanups.push(() => xvfb.stop());
    const browser: SandboxBrowser = await startSandboxBrowser({
      display: xvfb.display,
      width,
      height,
      url: opts.startUrl ?? DEMO_PAGE_URL,
    });
    cleanups.push(() => browser.stop());

    const cdpPort = opts.cdpPort || (await freePort());
    const agentMain = join(REPO_ROOT, 'vm-browser-agent/dist/main.js');
    // `ip netns exec` execs in place: the agent keeps this pid, so the helper stays its child.
    const [agentCmd, agentArgs]: [string, string[]] = opts.vmNetns
      ? [IP, ['netns', 'exec', opts.vmNetns.name, process.execPath, agentMain]]
      : [process.execPath, [agentMain]];
    const agent = spawnLogged(
      agentCmd,
      agentArgs,
      {
        ...process.env,
        ...opts.agentEnv,
        DISPLAY: xvfb.display,
        VMLIVE_CONTROLLER_URL: opts.vmNetns?.controllerUrl ?? controller.url,
        VMLIVE_VM_ID: vm.vmId,
        VMLIVE_VM_TOKEN: vm.vmToken,
        VMLIVE_CODEC: opts.codec ?? process.env.VMLIVE_CODEC ?? 'vp8',
        VMLIVE_WIDTH: String(width),
        VMLIVE_HEIGHT: String(height),
        VMLIVE_FPS: String(opts.fps ?? 30),
        VMLIVE_CDP_UPSTREAM: opts.vmNetns ? '' : browser.cdpUrl,
        VMLIVE_CDP_PORT: String(cdpPort),
        LOG_LEVEL: opts.logLevel ?? process.env.LOG_LEVEL ?? 'info',
        ...(opts.caFile ? { VMLIVE_CA_FILE: opts.caFile, NODE_EXTRA_CA_CERTS: opts.caFile } : {}),
      },
      join(logDir, 'agent.log'),
    );
    cleanups.push(() => stopChild(agent, 8000));

    const waitHelperUp = async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (agent.exitCode !== null)
          throw new SandboxStartError('agent', `exited with ${agent.exitCode}; see ${logDir}/agent.log`);
        const { vms } = (await api('GET', '/api/vms')) as {
          vms: Array<{ vmId: string; online: boolean; stats?: { helper?: string } }>;
        };
        const me = vms.find((v) => v.vmId === vm.vmId);
        if (me?.online && me.stats?.helper === 'up' && findHelperPid(agent.pid) !== undefined) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new SandboxStartError('agent', `helper not up within ${timeoutMs} ms; see ${logDir}/agent.log`);
    };
    await waitHelperUp(60_000);
    if (!opts.vmNetns) await waitHttpOk(`http://127.0.0.1:${cdpPort}/json/version`, 20_000, 'the CDP gateway', logDir);

    const mintViewerToken = async (role: 'view' | 'control', ttlSeconds = 3600) => {
      const res = (await api('POST', `/api/vms/${vm.vmId}/viewer-tokens`, { role, ttlSeconds })) as { token: string };
      return res.token;
    };
    return {
      controllerUrl: controller.url,
      operatorToken: controller.operatorToken,
      vmId: vm.vmId,
      vmToken: vm.vmToken,
      display: xvfb.display,
      cdpUrl: `http://127.0.0.1:${cdpPort}`,
      sandboxCdpUrl: browser.cdpUrl,
      logDir,
      mintViewerToken,
      viewerUrl: async (role, ttl) =>
        `${controller.url}/view?vm=${encodeURIComponent(vm.vmId)}#token=${await mintViewerToken(role, ttl)}`,
      pids: () => ({
        controller: controller.child.pid,
        agent: agent.pid,
        helper: findHelperPid(agent.pid),
        sandboxChromium: browser.pid,
        xvfb: xvfb.pid,
      }),
      killHelper: async () => {
        const pid = findHelperPid(agent.pid);
        if (pid === undefined) throw new Error('no helper process running');
        process.kill(pid, 'SIGKILL');
        return pid;
      },
      waitHelperUp,
      killController: async () => {
        const { child } = controller;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      },
      restartController: async () => {
        // The same port, so the agent (and anyone holding the URL) finds it again.
        controller = await startControllerProcess({ ...controllerOpts, port: Number(new URL(controller.url).port) });
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitHttpOk(url: string, timeoutMs: number, what: string, logDir: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new SandboxStartError('agent', `${what} did not answer ${url} within ${timeoutMs} ms; see ${logDir}/agent.log`);
}

/** The helper is the agent's child running the Python helper script. */
export function findHelperPid(agentPid: number | undefined): number | undefined {
  if (agentPid === undefined) return undefined;
  let children: string;
  try {
    children = readFileSync(`/proc/${agentPid}/task/${agentPid}/children`, 'utf8');
  } catch {
    return undefined;
  }
  for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('gstreamer-webrtc-helper')) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

export function spawnLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  child.once('exit', () => setTimeout(() => out.end(), 100));
  return child;
}

async function startControllerProcess(opts: {
  port: number;
  host: string;
  operatorToken: string | undefined;
  logFile: string;
  logLevel: string | undefined;
  env: Record<string, string>;
}): Promise<{ child: ChildProcess; url: string; operatorToken: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    PORT: String(opts.port),
    HOST: opts.host,
    LOG_LEVEL: opts.logLevel ?? process.env.LOG_LEVEL ?? 'info',
  };
  if (opts.operatorToken) env.VMLIVE_OPERATOR_TOKEN = opts.operatorToken;
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(process.execPath, [join(REPO_ROOT, 'master-controller/dist/main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  asOwnHost(child.pid); // it would have a host of its own (priorities.ts)
  child.stderr?.pipe(out, { end: false });
  child.once('exit', () => setTimeout(() => out.end(), 100));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new SandboxStartError('controller', 'not listening within 20 s')), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new SandboxStartError('controller', `exited with ${code}; see ${opts.logFile}`));
    });
    lines.on('line', (line) => {
      out.write(`${line}\n`);
      let rec: { msg?: string; url?: string; operatorTokenFile?: string };
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      if (rec.msg === 'controller listening' && rec.url) {
        clearTimeout(timer);
        const token =
          opts.operatorToken ?? (rec.operatorTokenFile && readFileSync(rec.operatorTokenFile, 'utf8').trim());
        if (!token) return reject(new SandboxStartError('controller', 'did not report an operator token'));
        resolvePromise({ child, url: rec.url, operatorToken: token });
      }
    });
  });
}

/**
 * Operator calls to the controller. With `ca` (an https:// controller signed by a private CA) they go
 * through node:https, which takes a CA per request; global fetch trusts only what Node loaded at start.
 */
export function operatorApi(base: string, token: string, ca?: Buffer) {
  return async (method: string, path: string, body?: unknown): Promise<unknown> => {
    if (ca) return httpsJson(base + path, method, token, ca, body);
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new SandboxStartError('controller', `${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

function httpsJson(url: string, method: string, token: string, ca: Buffer, body?: unknown): Promise<unknown> {
  const payload = body ? JSON.stringify(body) : undefined;
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca,
        headers: { authorization: `Bearer ${token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300)
            return reject(
              new SandboxStartError('controller', `${method} ${new URL(url).pathname} → ${status} ${text}`),
            );
          resolvePromise(text ? JSON.parse(text) : undefined);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
