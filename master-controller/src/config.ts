/**
 * The controller's settings: one table (protocol/src/settings.ts) of env name,
 * type and range, default and help, parsed once at start and frozen. A bad
 * value is a ConfigError naming the variable (main exits 2).
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigOf, IceServer, parseEnv, resolveSettings, setting } from '@vmlive/protocol';
import { z } from 'zod';
import { RATE_SETTINGS } from './edge/rate-settings.js';
import { EDGE_SETTINGS } from './edge/settings.js';

export { ConfigError } from '@vmlive/protocol';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_WEB_DIR = resolve(REPO_ROOT, 'web', 'dist');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const iceUrl = z.string().regex(/^(stuns?|turns?):/, 'urls must be stun:, turn: or turns: URLs');
// RFC 7065 §3.1: turn:/turns: host[:port][?transport=udp|tcp]; no user info (credentials are minted).
const turnUrl = z
  .string()
  .regex(
    /^turns?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$/,
    'must be turn:HOST[:PORT][?transport=udp|tcp] or turns:…',
  );
const ConfigIceServers = z.array(
  IceServer.extend({ urls: z.union([iceUrl, z.array(iceUrl).min(1, 'urls must not be empty')]) }),
  { error: 'must be a JSON array of RTCIceServer objects' },
);

const webDir = setting.custom(
  'VMLIVE_WEB_DIR',
  z.string().nullable(),
  (raw) => {
    if (raw === '') return null;
    const dir = resolve(raw);
    if (!existsSync(dir)) throw new Error(`directory ${dir} does not exist`);
    return dir;
  },
  {
    help: 'built viewer served at / (default web/dist when it exists); empty string disables',
    default: existsSync(resolve(DEFAULT_WEB_DIR, 'index.html')) ? DEFAULT_WEB_DIR : null,
    emptyIsValue: true,
  },
);

/** `memory`, or a Redis URL: redis:// or rediss:// (TLS), optional user:password@, host, port, /db. */
const STORE_SPEC = /^(memory|rediss?:\/\/([^@/\s]*@)?[A-Za-z0-9.-]+(:\d{1,5})?(\/\d{1,5})?)$/;

const store = setting.custom(
  'VMLIVE_STORE',
  z.string().regex(STORE_SPEC, 'must be memory or redis://host:port/db'),
  (raw) => {
    const v = raw.trim();
    if (!STORE_SPEC.test(v)) throw new Error(`must be memory or redis://host:port/db, got ${JSON.stringify(raw)}`);
    if (v !== 'memory') {
      const port = Number(new URL(v).port || 6379);
      if (port < 1 || port > 65535) throw new Error(`port ${port} is out of range`);
    }
    return v;
  },
  {
    default: 'memory',
    help: 'where sessions, offers, candidates, control and online state live: memory (this process only; lost on restart) or redis://host:port/db, shared by every controller pointed at it (they must share VMLIVE_SIGNING_KEY_FILE and VMLIVE_OPERATOR_TOKEN too)',
  },
);

/** The settings table (docs/api.md lists the same names). */
export const SETTINGS = {
  port: setting.int('PORT', 0, 65535, { default: 8080, help: 'TCP port; 0 = ephemeral' }),
  host: setting.str('HOST', { default: '127.0.0.1', help: 'listen address' }),
  operatorToken: setting.custom(
    'VMLIVE_OPERATOR_TOKEN',
    z.string(),
    (raw) => {
      if (raw.length < 16) throw new Error('must be at least 16 characters');
      return raw;
    },
    {
      default: '',
      help: 'operator bearer token; when unset one is generated into an owner-only file whose path is logged (never the token)',
      secret: true,
    },
  ),
  signingKeyFile: setting.str('VMLIVE_SIGNING_KEY_FILE', {
    default: '',
    help: 'PEM file of the EC P-256 private key (PKCS#8) signing VM, viewer and automation tokens (ES256); controllers sharing a store share it. Unset: generated at start (tokens then die with the process)',
  }),
  retiredKeyFiles: setting.custom(
    'VMLIVE_RETIRED_KEY_FILES',
    z.array(z.string().min(1)),
    (raw) =>
      raw
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean),
    {
      default: [],
      help: 'comma-separated PEM files of previous signing keys (private or public): they stay in the JWKS and keep verifying their tokens after a rotation, until those expire',
    },
  ),
  tokenSecret: setting.custom(
    'VMLIVE_TOKEN_SECRET',
    z.string(),
    (raw) => {
      if (raw.length < 32) throw new Error('must be at least 32 characters');
      return raw;
    },
    {
      default: '',
      help: 'legacy: HS256 tokens signed with this secret (before ES256) still verify while it is set; new tokens are always ES256',
      secret: true,
    },
  ),
  iceServers: setting.json('VMLIVE_ICE_SERVERS', ConfigIceServers, {
    default: [],
    help: 'JSON array of RTCIceServer handed to viewers',
  }),
  turnUrls: setting.custom(
    'VMLIVE_TURN_URLS',
    z.array(turnUrl),
    (raw) => {
      const urls = raw
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean);
      for (const u of urls) {
        const r = turnUrl.safeParse(u);
        if (!r.success) throw new Error(`${JSON.stringify(u)}: ${r.error.issues[0]?.message ?? 'invalid'}`);
      }
      return urls;
    },
    {
      default: [],
      help: 'comma-separated turn:/turns: URLs (e.g. turn:turn.example:3478?transport=udp,turns:turn.example:443?transport=tcp); each session gets credentials for them',
    },
  ),
  turnSecret: setting.str('VMLIVE_TURN_SECRET', {
    default: '',
    minLength: 16,
    help: "coturn's static-auth-secret: TURN credentials are HMAC-SHA1 of it (never logged, never returned)",
    secret: true,
  }),
  turnTtlS: setting.int('VMLIVE_TURN_TTL_S', 60, 86400, {
    default: 43200,
    help: 'lifetime of a session’s TURN credential from the session’s creation; coturn refuses it afterwards (at least VMLIVE_SESSION_IDLE_TTL_S)',
  }),
  iceTransportPolicy: setting.oneOf('VMLIVE_ICE_TRANSPORT_POLICY', ['all', 'relay'] as const, {
    default: 'all',
    help: 'relay: viewers and VMs use TURN relay candidates only (no host or server-reflexive address is exposed)',
  }),
  sessionIdleTtlS: setting.int('VMLIVE_SESSION_IDLE_TTL_S', 1, 86400, {
    default: 120,
    help: 'a session with no call on it for this long ends',
  }),
  viewerTokenMaxTtlS: setting.int('VMLIVE_VIEWER_TOKEN_MAX_TTL_S', 1, 31 * 86400, {
    default: 86400,
    help: 'largest ttlSeconds a viewer token may ask for',
  }),
  vmOnlineS: setting.int('VMLIVE_VM_ONLINE_S', 1, 3600, {
    default: 15,
    help: 'a VM is online while it heartbeated or polled within this many seconds',
  }),
  holderGraceS: setting.int('VMLIVE_HOLDER_GRACE_S', 1, 60, {
    default: 5,
    help: 'control held by a viewer ends when its session showed no sign of life (a call, or an open long-poll) for this long; a reload within it keeps control',
  }),
  onHolderLost: setting.oneOf('VMLIVE_ON_HOLDER_LOST', ['agent', 'paused'] as const, {
    default: 'agent',
    help: 'the mode when control ends because its holder went away: agent (the automation carries on) or paused',
  }),
  healthRing: setting.int('VMLIVE_HEALTH_RING', 1, 1000, {
    default: 120,
    help: 'health samples kept per VM, one per heartbeat (120 at the 5 s default heartbeat = the last 10 minutes); the oldest is dropped first',
  }),
  auditMaxEvents: setting.int('VMLIVE_AUDIT_MAX_EVENTS', 10, 10_000, {
    default: 1000,
    help: 'audit events kept per VM (control changes, overrides, instruction edits, input counts); the oldest is dropped first, and the trail goes with the VM',
  }),
  recordingsDir: setting.str('VMLIVE_RECORDINGS_DIR', {
    default: join(tmpdir(), 'vmlive-recordings'),
    help: 'directory of the recording segments (RecordingStorage); set it to lasting storage in production, shared by every controller of one store',
  }),
  recordingsMaxBytes: setting.int('VMLIVE_RECORDINGS_MAX_BYTES', 1024 * 1024, 2 ** 50, {
    default: 10 * 1024 ** 3,
    help: "bytes of segments kept per VM (retention): storing a segment beyond it drops the VM's oldest segments first",
  }),
  recordingSegmentS: setting.int('VMLIVE_RECORDING_SEGMENT_S', 1, 3600, {
    default: 60,
    help: 'default segment length of a recording (s); a helper crash loses at most the segment being written',
  }),
  recordingUrlTtlS: setting.int('VMLIVE_RECORDING_URL_TTL_S', 10, 7 * 86400, {
    default: 3600,
    help: 'how long the signed segment URLs of GET /api/vms/{vmId}/recordings play without a token',
  }),
  snapshotMaxAgeMs: setting.int('VMLIVE_SNAPSHOT_MAX_AGE_MS', 200, 60_000, {
    default: 2000,
    help: 'a snapshot this recent is served from the controller without asking the VM: at most one snapshot request per VM per this interval, however many consoles watch',
  }),
  metricsMaxVms: setting.int('VMLIVE_METRICS_MAX_VMS', 0, 10_000, {
    default: 100,
    help: 'per-VM series in /metrics (label vm) for at most this many VMs, the oldest registered first; the rest are counted in vmlive_vm_metrics_omitted (bounds label cardinality)',
  }),
  maxSessions: setting.int('VMLIVE_MAX_SESSIONS', 1, 10_000_000, {
    default: 100_000,
    help: 'cap on live sessions (429 beyond it), bounding memory',
  }),
  store,
  storePrefix: setting.str('VMLIVE_STORE_PREFIX', {
    default: 'vmlive:',
    pattern: { re: /^[A-Za-z0-9:_.-]{1,64}$/, message: 'must be 1-64 of A-Z a-z 0-9 : _ . -' },
    help: 'prefix of every Redis key and channel: controllers sharing one store use the same; separate deployments on one Redis use different ones',
  }),
  webDir,
  logLevel: setting.oneOf('LOG_LEVEL', LOG_LEVELS, { default: 'info', help: `one of ${LOG_LEVELS.join(', ')}` }),
  shutdownGraceMs: setting.int('VMLIVE_SHUTDOWN_GRACE_MS', 0, 60_000, {
    default: 5000,
    help: 'how long shutdown waits for in-flight responses',
  }),
  ...EDGE_SETTINGS,
  ...RATE_SETTINGS,
};

export type ControllerConfig = ConfigOf<typeof SETTINGS>;

/** Checks between settings, after each was parsed on its own. */
function checkCombined(c: ControllerConfig): ControllerConfig {
  if (c.turnUrls.length > 0 && c.turnSecret === '')
    throw new ConfigError(
      'VMLIVE_TURN_SECRET',
      'is required when VMLIVE_TURN_URLS is set (the TURN servers’ static-auth-secret)',
    );
  if (c.turnSecret !== '' && c.turnUrls.length === 0)
    throw new ConfigError(
      'VMLIVE_TURN_URLS',
      'is required when VMLIVE_TURN_SECRET is set (the TURN servers to mint credentials for)',
    );
  if (c.turnUrls.length > 0 && c.turnTtlS < c.sessionIdleTtlS)
    throw new ConfigError('VMLIVE_TURN_TTL_S', `must be at least VMLIVE_SESSION_IDLE_TTL_S (${c.sessionIdleTtlS})`);
  if (c.iceTransportPolicy === 'relay' && !hasTurnServer(c))
    throw new ConfigError(
      'VMLIVE_ICE_TRANSPORT_POLICY',
      'relay needs a TURN server (VMLIVE_TURN_URLS or a turn: entry in VMLIVE_ICE_SERVERS)',
    );
  if ((c.tlsCertFile === '') !== (c.tlsKeyFile === ''))
    throw new ConfigError(
      c.tlsCertFile === '' ? 'VMLIVE_TLS_CERT_FILE' : 'VMLIVE_TLS_KEY_FILE',
      'VMLIVE_TLS_CERT_FILE and VMLIVE_TLS_KEY_FILE are set together (HTTPS needs both)',
    );
  return c;
}

/** Whether relay-only can work at all: TURN URLs to mint for, or a static turn: entry. */
export function hasTurnServer(c: Pick<ControllerConfig, 'turnUrls' | 'iceServers'>): boolean {
  return (
    c.turnUrls.length > 0 ||
    c.iceServers.some((s) => (typeof s.urls === 'string' ? [s.urls] : s.urls).some((u) => /^turns?:/.test(u)))
  );
}

/** Parse the environment once. Unset or empty variables take the default (except VMLIVE_WEB_DIR=''). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  return checkCombined(parseEnv(SETTINGS, env));
}

/** Merge a partial (programmatic) config over the defaults, each value checked against its setting's range. */
export function resolveConfig(partial: Partial<ControllerConfig>): ControllerConfig {
  return checkCombined(resolveSettings(SETTINGS, partial));
}
