/**
 * One more sandbox VM (Xvfb + headful Chromium + the VM agent with its helper)
 * registered at a controller that is already running: what a wall of VMs in a
 * test is made of. Without a CDP gateway (no automation drives these), so each
 * costs a display, a browser and an agent only. Stopped in reverse order.
 */
import { join } from 'node:path';
import { findHelperPid, operatorApi, REPO_ROOT, spawnLogged } from './local-system.js';
import { type SandboxBrowser, startSandboxBrowser } from './sandbox-browser.js';
import { SandboxStartError, startXvfb, stopChild } from './xvfb.js';

export interface SandboxVmOptions {
  controllerUrl: string;
  operatorToken: string;
  name: string;
  /** Page the VM's browser shows (a data: URL keeps it cheap). */
  url: string;
  logDir: string;
  width?: number;
  height?: number;
  /** Extra env for the agent (VMLIVE_HEARTBEAT_MS, …). */
  agentEnv?: Record<string, string>;
}

export interface SandboxVm {
  vmId: string;
  name: string;
  pids(): { agent?: number; helper?: number; browser?: number; xvfb?: number };
  stop(): Promise<void>;
}

export async function startSandboxVm(opts: SandboxVmOptions): Promise<SandboxVm> {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const api = operatorApi(opts.controllerUrl, opts.operatorToken);
    const vm = (await api('POST', '/api/vms', { name: opts.name })) as { vmId: string; vmToken: string };
    const xvfb = await startXvfb({ width, height });
    cleanups.push(() => xvfb.stop());
    // Many VMs start at once on a shared machine: give each browser longer than a lone one needs.
    const browser: SandboxBrowser = await startSandboxBrowser({
      display: xvfb.display,
      width,
      height,
      url: opts.url,
      timeoutMs: 90_000,
    });
    cleanups.push(() => browser.stop());
    const agent = spawnLogged(
      process.execPath,
      [join(REPO_ROOT, 'vm-browser-agent/dist/main.js')],
      {
        ...process.env,
        ...opts.agentEnv,
        DISPLAY: xvfb.display,
        VMLIVE_CONTROLLER_URL: opts.controllerUrl,
        VMLIVE_VM_ID: vm.vmId,
        VMLIVE_VM_TOKEN: vm.vmToken,
        VMLIVE_WIDTH: String(width),
        VMLIVE_HEIGHT: String(height),
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      },
      join(opts.logDir, `agent-${opts.name}.log`),
    );
    cleanups.push(() => stopChild(agent, 8000));
    // Up once the controller has a health report saying the helper answered.
    const deadline = Date.now() + 240_000;
    for (;;) {
      if (agent.exitCode !== null) throw new SandboxStartError('agent', `${opts.name} exited with ${agent.exitCode}`);
      // A refused or dropped poll (a loaded machine) is retried until the deadline like a "not yet".
      const h = (await api('GET', `/api/vms/${vm.vmId}/health`).catch(() => ({ samples: [] }))) as {
        samples: Array<{ helper: string }>;
      };
      if (h.samples.at(-1)?.helper === 'up') break;
      if (Date.now() > deadline) throw new SandboxStartError('agent', `${opts.name}: helper not up within 240 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return {
      vmId: vm.vmId,
      name: opts.name,
      pids: () => ({ agent: agent.pid, helper: findHelperPid(agent.pid), browser: browser.pid, xvfb: xvfb.pid }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
