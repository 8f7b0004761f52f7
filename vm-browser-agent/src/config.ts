/**
 * The VM agent's settings: its own table plus the helper's (protocol
 * HELPER_SETTINGS), both parsed from the environment once at start and frozen.
 * The helper's part is handed to the helper as one JSON value; the helper
 * reads no environment of its own for settings.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, describeSettings, HELPER_SETTINGS, IceServer, parseEnv, setting } from '@vmlive/protocol';
import { z } from 'zod';
import { DEFAULT_HELPER_SCRIPT } from './helper/helper-process.js';
import { DEFAULT_SPOOL_DIR } from './recording/recording-agent.js';

export const AGENT_SETTINGS = {
  controllerUrl: setting.url('VMLIVE_CONTROLLER_URL', { help: 'base URL of the master controller' }),
  caFile: setting.str('VMLIVE_CA_FILE', {
    default: '',
    help: 'PEM bundle of the CA(s) that sign an https:// controller, beside the system ones; Node reads it only at process start, so the launcher sets NODE_EXTRA_CA_CERTS to the same file',
  }),
  vmId: setting.str('VMLIVE_VM_ID', { help: 'this VM id, as registered at the controller' }),
  vmToken: setting.str('VMLIVE_VM_TOKEN', { help: 'this VM token (POST /api/vms returns it)', secret: true }),
  python: setting.str('VMLIVE_HELPER_PYTHON', {
    default: '/usr/bin/python3',
    help: 'Python with GObject (Debian python3-gi)',
  }),
  helperScript: setting.str('VMLIVE_HELPER_SCRIPT', {
    default: DEFAULT_HELPER_SCRIPT,
    help: 'GStreamer helper entry script (the VM image bundles the agent, so it names the path)',
  }),
  helperStartTimeoutS: setting.int('VMLIVE_HELPER_START_TIMEOUT_S', 5, 600, {
    default: 30,
    help: 'how long a starting helper may take to say ready before it is killed and started again (a VM under TCG emulation needs minutes)',
  }),
  iceServers: setting.json('VMLIVE_ICE_SERVERS', z.array(IceServer), {
    default: [],
    help: 'ICE servers for the VM side, JSON',
  }),
  heartbeatMs: setting.int('VMLIVE_HEARTBEAT_MS', 500, 60_000, { default: 5000, help: 'heartbeat period (ms)' }),
  longPollSeconds: setting.int('VMLIVE_LONG_POLL_S', 0, 30, {
    default: 25,
    help: 'long-poll wait sent to the controller (s)',
  }),
  cdpUpstream: setting.str('VMLIVE_CDP_UPSTREAM', {
    default: '',
    help: "the VM browser's own DevTools HTTP base (e.g. http://127.0.0.1:9222, loopback only); set = serve the CDP gateway",
  }),
  cdpHost: setting.str('VMLIVE_CDP_HOST', {
    default: '127.0.0.1',
    help: 'CDP gateway listen address; any non-loopback address requires automation tokens',
  }),
  cdpPort: setting.int('VMLIVE_CDP_PORT', 0, 65535, { default: 9223, help: 'CDP gateway port (0 = ephemeral)' }),
  cdpWhileHeld: setting.oneOf('VMLIVE_CDP_WHILE_HELD', ['hold', 'reject'] as const, {
    default: 'hold',
    help: "while a person has control: hold the automation's page-changing CDP commands until control returns, or reject them at once",
  }),
  cdpHoldMaxS: setting.int('VMLIVE_CDP_HOLD_MAX_S', 1, 86_400, {
    default: 300,
    help: 'a CDP command held longer than this fails with an error naming the mode and the holder',
  }),
  cdpMaxMessageMiB: setting.int('VMLIVE_CDP_MAX_MESSAGE_MIB', 1, 512, {
    default: 100,
    help: 'largest CDP message from the automation (Playwright sends setInputFiles inline, base64)',
  }),
  recordingSpoolDir: setting.str('VMLIVE_RECORDING_SPOOL_DIR', {
    default: DEFAULT_SPOOL_DIR,
    help: 'where finished recording segments wait for their upload, one folder per VM id (on disk, they survive a helper or agent crash)',
  }),
  logLevel: setting.oneOf('LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const, {
    default: 'info',
    help: 'pino log level',
  }),
} as const;

export type AgentConfig = ReturnType<typeof parseAgentConfig>;

/** Throws ConfigError naming the first bad variable. */
export function parseAgentConfig(env: Readonly<Record<string, string | undefined>>) {
  const agent = parseEnv(AGENT_SETTINGS, env);
  if (agent.caFile !== '') checkCaFile(agent.caFile, env.NODE_EXTRA_CA_CERTS);
  return Object.freeze({ ...agent, helper: parseEnv(HELPER_SETTINGS, env) });
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The agent reaches the controller with Node's global fetch (undici, bundled in Node 20 but not
 * importable without the npm package), whose TLS trusts Node's root store plus NODE_EXTRA_CA_CERTS,
 * a file read once when the process starts. So the CA file is checked here (readable, every
 * certificate in it parses) and must be the very file Node loaded: a mismatch would otherwise
 * surface only as an opaque "unable to verify the first certificate" on every request.
 */
function checkCaFile(file: string, extraCaCerts: string | undefined): void {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('VMLIVE_CA_FILE', `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new ConfigError('VMLIVE_CA_FILE', `${file} holds no PEM certificate`);
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ConfigError('VMLIVE_CA_FILE', `certificate ${i + 1} in ${file} is not a valid X.509 certificate`);
    }
  }
  if (extraCaCerts !== file)
    throw new ConfigError(
      'VMLIVE_CA_FILE',
      `NODE_EXTRA_CA_CERTS must name the same file (${file}) when the agent starts: Node reads extra CAs only then`,
    );
}

export function describeAgentSettings(): string {
  return `${describeSettings(AGENT_SETTINGS)}\nHelper (passed to it as --settings=<json>):\n${describeSettings(HELPER_SETTINGS)}`;
}
