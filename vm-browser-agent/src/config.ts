import { z } from 'zod';
import { DEFAULT_HELPER_SCRIPT } from './helper/helper-process.js';
import { int, json, oneOf, parseConfig, str, url } from './util/config-table.js';

const IceServers = z.array(
  z.object({
    urls: z.union([z.string(), z.array(z.string())]),
    username: z.string().optional(),
    credential: z.string().optional(),
  }),
);

/** The webrtc-server's settings: one row each, parsed once at start. */
export const AGENT_SETTINGS = {
  controllerUrl: url('VMLIVE_CONTROLLER_URL', undefined, 'base URL of the master controller'),
  vmId: str('VMLIVE_VM_ID', undefined, 'this VM id, as registered at the controller'),
  vmToken: str('VMLIVE_VM_TOKEN', undefined, 'this VM token (POST /api/vms returns it)'),
  display: str('DISPLAY', undefined, 'X display to capture and inject input into'),
  codec: oneOf('VMLIVE_CODEC', 'vp8', 'video codec', ['vp8', 'h264'] as const),
  width: int('VMLIVE_WIDTH', 1280, 'encoded width', 160, 3840),
  height: int('VMLIVE_HEIGHT', 720, 'encoded height', 120, 2160),
  fps: int('VMLIVE_FPS', 30, 'capture and encode frame rate', 1, 60),
  python: str('VMLIVE_HELPER_PYTHON', '/usr/bin/python3', 'Python with GObject (Debian python3-gi)'),
  helperScript: str(
    'VMLIVE_HELPER_SCRIPT',
    DEFAULT_HELPER_SCRIPT,
    'GStreamer helper entry script (the VM image bundles the agent, so it names the path)',
  ),
  iceServers: json('VMLIVE_ICE_SERVERS', [] as z.infer<typeof IceServers>, 'ICE servers for the VM side, JSON', (v) =>
    IceServers.parse(v),
  ),
  heartbeatMs: int('VMLIVE_HEARTBEAT_MS', 5000, 'heartbeat period (ms)', 500, 60_000),
  longPollSeconds: int('VMLIVE_LONG_POLL_S', 25, 'long-poll wait sent to the controller (s)', 0, 30),
  logLevel: oneOf('LOG_LEVEL', 'info', 'pino log level', ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const),
} as const;

export type AgentConfig = ReturnType<typeof parseAgentConfig>;

export function parseAgentConfig(env: Record<string, string | undefined>) {
  return parseConfig(AGENT_SETTINGS, env);
}
