/**
 * One table of settings (env name, parser, default, help), parsed once at start
 * and frozen. A bad value throws a ConfigError naming the variable, so a
 * process fails at start with a clear message instead of misbehaving later.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export interface Setting<T> {
  env: string;
  help: string;
  /** undefined = required */
  default: T | undefined;
  parse(raw: string): T;
}

export const str = (env: string, def: string | undefined, help: string): Setting<string> => ({
  env,
  help,
  default: def,
  parse: (raw) => {
    if (raw.length === 0) throw new Error('must not be empty');
    return raw;
  },
});

export const int = (env: string, def: number | undefined, help: string, min: number, max: number): Setting<number> => ({
  env,
  help,
  default: def,
  parse: (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`must be an integer, got ${JSON.stringify(raw)}`);
    const n = Number(raw);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  },
});

export const oneOf = <T extends string>(
  env: string,
  def: T | undefined,
  help: string,
  values: readonly T[],
): Setting<T> => ({
  env,
  help,
  default: def,
  parse: (raw) => {
    if (!(values as readonly string[]).includes(raw))
      throw new Error(`must be one of ${values.join(', ')}, got ${raw}`);
    return raw as T;
  },
});

export const url = (env: string, def: string | undefined, help: string): Setting<string> => ({
  env,
  help,
  default: def,
  parse: (raw) => {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('must be an http(s) URL');
    return raw.replace(/\/+$/, '');
  },
});

export const json = <T>(env: string, def: T, help: string, check: (v: unknown) => T): Setting<T> => ({
  env,
  help,
  default: def,
  parse: (raw) => check(JSON.parse(raw)),
});

type Parsed<S extends Record<string, Setting<unknown>>> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

export function parseConfig<S extends Record<string, Setting<unknown>>>(
  table: S,
  env: Record<string, string | undefined>,
): Parsed<S> {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(table)) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') {
      if (setting.default === undefined) throw new ConfigError(setting.env, `is required (${setting.help})`);
      out[key] = setting.default;
      continue;
    }
    try {
      out[key] = setting.parse(raw);
    } catch (err) {
      throw new ConfigError(setting.env, err instanceof Error ? err.message : String(err));
    }
  }
  return Object.freeze(out) as Parsed<S>;
}

export function describeConfig(table: Record<string, Setting<unknown>>): string {
  return Object.values(table)
    .map(
      (s) =>
        `  ${s.env.padEnd(28)} ${s.help}${s.default === undefined ? ' (required)' : ` (default ${JSON.stringify(s.default)})`}`,
    )
    .join('\n');
}
