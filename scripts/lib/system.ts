/**
 * What the scripts measure: either the local sandbox (controller + Xvfb +
 * headful Chromium + agent + helper, started through the lead's e2e/system.ts)
 * or an existing deployment given a controller URL, VM id and viewer token.
 *
 * The sandbox module is loaded dynamically through a typed view of its API
 * (below), so the scripts typecheck on their own and fail with a clear message
 * when the module is absent.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PrerequisiteError } from './report.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface SystemPids {
  controller?: number;
  agent?: number;
  helper?: number;
  sandboxChromium?: number;
}

/** The part of e2e/system.ts's startSystem() result the scripts use. */
export interface LocalSystem {
  controllerUrl: string;
  operatorToken: string;
  vmId: string;
  display: string;
  sandboxCdpUrl: string;
  mintViewerToken(role: 'view' | 'control', ttlSeconds?: number): Promise<string>;
  pids(): SystemPids;
  stop(): Promise<void>;
}

export interface SystemOptions {
  startUrl: string;
  codec?: 'vp8' | 'h264';
  width?: number;
  height?: number;
  fps?: number;
  /** extra env for the VM agent and, through it, the helper (e.g. VMLIVE_RTX) */
  agentEnv?: Record<string, string>;
  /** extra env for the controller */
  controllerEnv?: Record<string, string>;
}

type StartFn = (opts: SystemOptions) => Promise<LocalSystem>;

/** Candidates in order: the lead's e2e harness, then the agent's own local-system module. */
const MODULES: { path: string; exportName: string }[] = [
  { path: 'e2e/system.ts', exportName: 'startSystem' },
  { path: 'vm-browser-agent/src/sandbox/local-system.ts', exportName: 'startLocalSystem' },
];

export async function startLocalSystem(opts: SystemOptions): Promise<LocalSystem> {
  // The sandbox runs the controller and the agent from their build output, as in production.
  for (const built of ['master-controller/dist/main.js', 'vm-browser-agent/dist/main.js']) {
    if (!existsSync(resolve(REPO_ROOT, built))) {
      throw new PrerequisiteError(
        `${built} missing: run \`npm run build\` first (the sandbox runs the built services)`,
      );
    }
  }
  for (const m of MODULES) {
    const file = resolve(REPO_ROOT, m.path);
    if (!existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const start = mod[m.exportName];
    if (typeof start !== 'function') continue;
    return await (start as StartFn)(opts);
  }
  throw new PrerequisiteError(
    `no local sandbox: none of ${MODULES.map((m) => m.path).join(', ')} exports a start function. ` +
      'Measure a deployment instead with --controller URL --vm ID --token VIEWER_TOKEN.',
  );
}

/** Fails early with a clear message when the controller does not answer. */
export async function checkController(url: string): Promise<void> {
  try {
    const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (e) {
    throw new PrerequisiteError(`controller ${url} unreachable (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Where the viewer connects: controller, VM and a viewer token. */
export interface Target {
  controllerUrl: string;
  vmId: string;
  token: string;
  /** set for the local sandbox only */
  system?: LocalSystem;
}
