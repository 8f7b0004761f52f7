/**
 * One table of settings: env name, default, parser, help. Parsed and validated
 * once at start, then frozen. A bad value is a ConfigError (main exits 2).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IceServer } from '@vmlive/protocol';

export interface ControllerConfig {
  port: number;
  host: string;
  /** Empty string: generate one at start. */
  operatorToken: string;
  /** HS256 secret for VM and viewer tokens. Empty string: generate one at start. */
  tokenSecret: string;
  iceServers: IceServer[];
  sessionIdleTtlS: number;
  viewerTokenMaxTtlS: number;
  vmOnlineS: number;
  maxSessions: number;
  /** Directory of the built viewer served at `/`; null: serve none. */
  webDir: string | null;
  logLevel: string;
  /** How long close() lets in-flight responses finish before cutting connections. */
  shutdownGraceMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly env: string,
    message: string,
  ) {
    super(`${env}: ${message}`);
    this.name = 'ConfigError';
  }
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_WEB_DIR = resolve(REPO_ROOT, 'web', 'dist');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function int(min: number, max: number) {
  return (env: string, raw: string): number => {
    if (!/^\d+$/.test(raw.trim())) throw new ConfigError(env, `expected an integer, got ${JSON.stringify(raw)}`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(env, `must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

function iceServers(env: string, raw: string): IceServer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(env, 'is not valid JSON (expected an array of RTCIceServer objects)');
  }
  if (!Array.isArray(parsed)) throw new ConfigError(env, 'must be a JSON array of RTCIceServer objects');
  return parsed.map((s: unknown, i: number): IceServer => {
    if (typeof s !== 'object' || s === null) throw new ConfigError(env, `[${i}] must be an object`);
    const { urls, username, credential } = s as Record<string, unknown>;
    const urlList = Array.isArray(urls) ? urls : [urls];
    if (urlList.length === 0 || !urlList.every((u) => typeof u === 'string' && /^(stuns?|turns?):/.test(u))) {
      throw new ConfigError(env, `[${i}].urls must be a stun:/turn:/turns: URL or a non-empty array of them`);
    }
    if (username !== undefined && typeof username !== 'string') throw new ConfigError(env, `[${i}].username`);
    if (credential !== undefined && typeof credential !== 'string') throw new ConfigError(env, `[${i}].credential`);
    return {
      urls: urls as string | string[],
      ...(username !== undefined ? { username } : {}),
      ...(credential !== undefined ? { credential } : {}),
    };
  });
}

interface Setting<K extends keyof ControllerConfig> {
  key: K;
  env: string;
  help: string;
  default: () => ControllerConfig[K];
  parse: (env: string, raw: string) => ControllerConfig[K];
}

const setting = <K extends keyof ControllerConfig>(s: Setting<K>) => s;

/** The settings table (README/docs list the same names). */
export const SETTINGS = [
  setting({ key: 'port', env: 'PORT', help: 'TCP port; 0 = ephemeral', default: () => 8080, parse: int(0, 65535) }),
  setting({ key: 'host', env: 'HOST', help: 'listen address', default: () => '127.0.0.1', parse: (_e, r) => r }),
  setting({
    key: 'operatorToken',
    env: 'VMLIVE_OPERATOR_TOKEN',
    help: 'operator bearer token; generated and printed when unset',
    default: () => '',
    parse: (env, raw) => {
      if (raw.length < 16) throw new ConfigError(env, 'must be at least 16 characters');
      return raw;
    },
  }),
  setting({
    key: 'tokenSecret',
    env: 'VMLIVE_TOKEN_SECRET',
    help: 'HS256 secret signing VM and viewer tokens; generated when unset (tokens then die with the process)',
    default: () => '',
    parse: (env, raw) => {
      if (raw.length < 32) throw new ConfigError(env, 'must be at least 32 characters');
      return raw;
    },
  }),
  setting({
    key: 'iceServers',
    env: 'VMLIVE_ICE_SERVERS',
    help: 'JSON array of RTCIceServer handed to viewers',
    default: () => [],
    parse: iceServers,
  }),
  setting({
    key: 'sessionIdleTtlS',
    env: 'VMLIVE_SESSION_IDLE_TTL_S',
    help: 'a session with no call on it for this long ends',
    default: () => 120,
    parse: int(1, 86400),
  }),
  setting({
    key: 'viewerTokenMaxTtlS',
    env: 'VMLIVE_VIEWER_TOKEN_MAX_TTL_S',
    help: 'largest ttlSeconds a viewer token may ask for',
    default: () => 86400,
    parse: int(1, 31 * 86400),
  }),
  setting({
    key: 'vmOnlineS',
    env: 'VMLIVE_VM_ONLINE_S',
    help: 'a VM is online while it heartbeated or polled within this many seconds',
    default: () => 15,
    parse: int(1, 3600),
  }),
  setting({
    key: 'maxSessions',
    env: 'VMLIVE_MAX_SESSIONS',
    help: 'cap on live sessions (429 beyond it), bounding memory',
    default: () => 100_000,
    parse: int(1, 10_000_000),
  }),
  setting({
    key: 'webDir',
    env: 'VMLIVE_WEB_DIR',
    help: 'built viewer served at / (default web/dist when it exists); empty string disables',
    default: () => (existsSync(resolve(DEFAULT_WEB_DIR, 'index.html')) ? DEFAULT_WEB_DIR : null),
    parse: (env, raw) => {
      if (raw === '') return null;
      const dir = resolve(raw);
      if (!existsSync(dir)) throw new ConfigError(env, `directory ${dir} does not exist`);
      return dir;
    },
  }),
  setting({
    key: 'logLevel',
    env: 'LOG_LEVEL',
    help: `one of ${LOG_LEVELS.join(', ')}`,
    default: () => 'info',
    parse: (env, raw) => {
      if (!LOG_LEVELS.includes(raw)) throw new ConfigError(env, `must be one of ${LOG_LEVELS.join(', ')}`);
      return raw;
    },
  }),
  setting({
    key: 'shutdownGraceMs',
    env: 'VMLIVE_SHUTDOWN_GRACE_MS',
    help: 'how long shutdown waits for in-flight responses',
    default: () => 5000,
    parse: int(0, 60_000),
  }),
] as const;

export function defaultConfig(): ControllerConfig {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) out[s.key] = s.default();
  return out as unknown as ControllerConfig;
}

/** Parse the environment once. Unset or empty variables take the default (except VMLIVE_WEB_DIR=''). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const raw = env[s.env];
    const unset = raw === undefined || (raw === '' && s.key !== 'webDir');
    out[s.key] = unset ? s.default() : s.parse(s.env, raw);
  }
  return Object.freeze(out) as unknown as ControllerConfig;
}

/** Merge a partial (programmatic) config over the defaults, validating what matters. */
export function resolveConfig(partial: Partial<ControllerConfig>): ControllerConfig {
  const merged = { ...defaultConfig(), ...partial };
  for (const s of SETTINGS) {
    const v = merged[s.key];
    if (typeof v === 'number' && (!Number.isFinite(v) || v < 0)) {
      throw new ConfigError(s.env, `must be a non-negative number, got ${v}`);
    }
  }
  return Object.freeze(merged);
}
