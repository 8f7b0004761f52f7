/**
 * Shared set-up of latency.ts and stability.ts: the page server, the headless
 * viewer browser, and either the local sandbox (showing the clock page) or a
 * deployment given on the command line. Everything started is stopped in
 * reverse order by `close()`, also on SIGINT/SIGTERM.
 */

import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { estimateClockOffset } from './clock-offset.js';
import { PrerequisiteError } from './report.js';
import { type PageServer, startPageServer } from './server.js';
import { checkController, type LocalSystem, startLocalSystem, type Target } from './system.js';

export interface TargetArgs {
  controller?: string | undefined;
  vm?: string | undefined;
  token?: string | undefined;
  mode: string;
  codec?: string | undefined;
  fps?: number | undefined;
  'clock-offset-ms': number;
  'estimate-offset': boolean;
  'screen-width': number;
}

/** The target and the page server, without a viewer browser (first-frame.ts starts a fresh one per viewer). */
export interface TargetSession {
  server: PageServer;
  target: Target;
  system?: LocalSystem;
  clockOffsetMs: number;
  describe: string;
  close(): Promise<void>;
  /** Runs `cleanup` on close (and on SIGINT/SIGTERM), before what was opened earlier. */
  onClose(cleanup: () => Promise<unknown>): void;
}

export interface Session extends TargetSession {
  viewerBrowser: Browser;
}

/** Common options of the scripts that measure one WebRTC viewer. */
export const TARGET_OPTIONS = {
  controller: {
    type: 'string',
    help: 'controller URL of a deployment (default: start the local sandbox showing the clock page)',
  },
  vm: { type: 'string', help: 'VM id (with --controller)' },
  token: { type: 'string', help: 'viewer token for that VM (with --controller); or env VMLIVE_VIEWER_TOKEN' },
  mode: { type: 'string', default: 'static', help: 'clock page in the local sandbox: static or busy' },
  codec: { type: 'string', help: 'local sandbox codec vp8|h264 (default: the system default)' },
  fps: { type: 'number', help: 'local sandbox capture fps (default: the system default)' },
  'clock-offset-ms': {
    type: 'number',
    default: 0,
    help: "VM clock minus this machine's clock, ms (remote VM; 0 on the local sandbox)",
  },
  'screen-width': {
    type: 'number',
    default: 1280,
    help: "width in px of the VM's captured screen (the clock page must fill it from its top-left corner, 100 % zoom)",
  },
  'estimate-offset': {
    type: 'boolean',
    help: "estimate the offset from the controller's Date header (assumes VM and controller clocks agree)",
  },
} as const;

/** Extra environment for the local sandbox's controller and VM agent (ignored for a deployment). */
export interface SandboxEnv {
  controller?: Record<string, string>;
  agent?: Record<string, string>;
}

/** The target and one viewer browser, started once it is up. */
export async function openSession(name: string, args: TargetArgs, env: SandboxEnv = {}): Promise<Session> {
  const session = await openTarget(name, args, env);
  try {
    const viewer = await launchChromium({ headless: true });
    session.onClose(() => viewer.stop());
    return { ...session, viewerBrowser: viewer.browser };
  } catch (e) {
    await session.close();
    throw e;
  }
}

export async function openTarget(name: string, args: TargetArgs, env: SandboxEnv = {}): Promise<TargetSession> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  };
  const onSignal = (code: number) => () => void close().then(() => process.exit(code));
  process.once('SIGINT', onSignal(130));
  process.once('SIGTERM', onSignal(143));
  try {
    const server = await startPageServer();
    cleanups.push(() => server.close());
    let target: Target;
    let system: LocalSystem | undefined;
    let clockOffsetMs = args['clock-offset-ms'];
    let describe: string;
    if (args.controller) {
      const token = args.token ?? process.env.VMLIVE_VIEWER_TOKEN;
      if (!args.vm || !token)
        throw new PrerequisiteError('--controller needs --vm and --token (or VMLIVE_VIEWER_TOKEN)');
      await checkController(args.controller);
      server.setController(args.controller);
      target = { controllerUrl: args.controller, vmId: args.vm, token };
      if (args['estimate-offset']) {
        const est = await estimateClockOffset(args.controller);
        clockOffsetMs = est.offsetMs;
        console.error(`${name}: estimated clock offset ${est.offsetMs.toFixed(1)} ms (± ${est.errorMs.toFixed(1)} ms)`);
      }
      describe = `deployment ${args.controller} vm ${args.vm}`;
    } else {
      if (args.mode !== 'static' && args.mode !== 'busy') throw new PrerequisiteError('--mode must be static or busy');
      console.error(`${name}: starting the local sandbox (controller, Xvfb, Chromium, agent, helper)…`);
      system = await startLocalSystem({
        startUrl: server.pageUrl('clock.html', { mode: args.mode }),
        ...(args.codec === 'vp8' || args.codec === 'h264' ? { codec: args.codec } : {}),
        ...(args.fps ? { fps: args.fps } : {}),
        ...(env.controller ? { controllerEnv: env.controller } : {}),
        ...(env.agent ? { agentEnv: env.agent } : {}),
      });
      const sys = system;
      cleanups.push(() => sys.stop());
      server.setController(system.controllerUrl);
      target = {
        controllerUrl: system.controllerUrl,
        vmId: system.vmId,
        token: await system.mintViewerToken('view', 3600),
        system,
      };
      describe = `local sandbox, ${args.mode} clock page, codec ${args.codec ?? 'default'}`;
    }
    return {
      server,
      target,
      onClose: (c) => cleanups.push(c),
      ...(system ? { system } : {}),
      clockOffsetMs,
      describe,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
