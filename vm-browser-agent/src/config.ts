/**
 * The VM agent's settings: its own table plus the helper's (protocol
 * HELPER_SETTINGS), both parsed from the environment once at start and frozen.
 * The helper's part is handed to the helper as one JSON value; the helper
 * reads no environment of its own for settings.
 */
import { describeSettings, HELPER_SETTINGS, IceServer, parseEnv, setting } from '@vmlive/protocol';
import { z } from 'zod';
import { DEFAULT_HELPER_SCRIPT } from './helper/helper-process.js';

export const AGENT_SETTINGS = {
  controllerUrl: setting.url('VMLIVE_CONTROLLER_URL', { help: 'base URL of the master controller' }),
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
  iceServers: setting.json('VMLIVE_ICE_SERVERS', z.array(IceServer), {
    default: [],
    help: 'ICE servers for the VM side, JSON',
  }),
  heartbeatMs: setting.int('VMLIVE_HEARTBEAT_MS', 500, 60_000, { default: 5000, help: 'heartbeat period (ms)' }),
  longPollSeconds: setting.int('VMLIVE_LONG_POLL_S', 0, 30, {
    default: 25,
    help: 'long-poll wait sent to the controller (s)',
  }),
  logLevel: setting.oneOf('LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const, {
    default: 'info',
    help: 'pino log level',
  }),
} as const;

export type AgentConfig = ReturnType<typeof parseAgentConfig>;

/** Throws ConfigError naming the first bad variable. */
export function parseAgentConfig(env: Readonly<Record<string, string | undefined>>) {
  return Object.freeze({ ...parseEnv(AGENT_SETTINGS, env), helper: parseEnv(HELPER_SETTINGS, env) });
}

export function describeAgentSettings(): string {
  return `${describeSettings(AGENT_SETTINGS)}\nHelper (passed to it as --settings=<json>):\n${describeSettings(HELPER_SETTINGS)}`;
}
