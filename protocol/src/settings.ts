/**
 * One table of settings per process: env name, type and range, default, help.
 * Parsed once at start, validated, frozen; a bad value is a ConfigError naming
 * the variable. Used by the controller and the VM agent alike; the helper's
 * settings are a table too (helper.ts), which the VM agent parses from its own
 * environment and hands to the helper as one validated JSON value.
 *
 * Each setting carries two parsers: `fromEnv` for the environment's strings
 * and `schema` for an already typed value (a programmatic config, the JSON
 * handed to the helper), with the same range, so a setting has one range.
 */
import { z } from 'zod';

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
  readonly env: string;
  readonly help: string;
  /** undefined: required. */
  readonly default: T | undefined;
  /** Validates a typed value (same range as fromEnv). */
  readonly schema: z.ZodType<T>;
  /** Parses the environment's string; throws Error with a message (the variable is added by the caller). */
  fromEnv(raw: string): T;
  /** Never printed (help shows "(secret)"). */
  readonly secret?: boolean;
  /** An empty string counts as a value, not as unset. */
  readonly emptyIsValue?: boolean;
}

type Opts<T> = { default?: T; help: string; secret?: boolean };

function make<T>(env: string, o: Opts<T>, schema: z.ZodType<T>, fromEnv?: (raw: string) => T): Setting<T> {
  return {
    env,
    help: o.help,
    default: o.default,
    schema,
    secret: o.secret,
    fromEnv:
      fromEnv ??
      ((raw) => {
        const r = schema.safeParse(raw);
        if (!r.success) throw new Error(r.error.issues[0]?.message ?? 'invalid value');
        return r.data;
      }),
  };
}

function checked<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new Error(r.error.issues[0]?.message ?? 'invalid value');
  return r.data;
}

export const setting = {
  int(env: string, min: number, max: number, o: Opts<number>): Setting<number> {
    const schema = z
      .number()
      .int(`must be an integer`)
      .min(min, `must be between ${min} and ${max}`)
      .max(max, `must be between ${min} and ${max}`);
    return make(env, o, schema, (raw) => {
      const t = raw.trim();
      if (!/^-?\d+$/.test(t)) throw new Error(`must be an integer, got ${JSON.stringify(raw)}`);
      return checked(schema, Number(t));
    });
  },
  /**
   * `pattern` is a JSON-Schema-compatible regex (no lookbehind, no flags): the helper checks it in Python too.
   * A default of '' means "unset" (the value is then '' and the caller decides what that means).
   */
  str(
    env: string,
    o: Opts<string> & { minLength?: number; pattern?: { re: RegExp; message: string } },
  ): Setting<string> {
    const min = o.minLength ?? 1;
    const base = z.string().min(min, min > 1 ? `must be at least ${min} characters` : 'must not be empty');
    const checked = o.pattern ? base.regex(o.pattern.re, o.pattern.message) : base;
    // A union (not a refine) keeps the schema representable as JSON Schema.
    return make(env, o, o.default === '' ? (z.union([z.literal(''), checked]) as z.ZodType<string>) : checked);
  },
  oneOf<const T extends readonly [string, ...string[]]>(
    env: string,
    values: T,
    o: Opts<T[number]>,
  ): Setting<T[number]> {
    const schema = z.enum(values, { error: `must be one of ${values.join(', ')}` }) as unknown as z.ZodType<T[number]>;
    return make(env, o, schema, (raw) => checked(schema, raw.trim()));
  },
  bool(env: string, o: Opts<boolean>): Setting<boolean> {
    return make(env, o, z.boolean(), (raw) => {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new Error(`must be a boolean (1/0/true/false), got ${JSON.stringify(raw)}`);
    });
  },
  url(env: string, o: Opts<string>): Setting<string> {
    const schema = z
      .string()
      .refine((s) => /^https?:\/\/[^/]/.test(s) && URL.canParse(s), 'must be an http(s) URL')
      .transform((s) => s.replace(/\/+$/, '')) as unknown as z.ZodType<string>;
    return make(env, o, schema);
  },
  /** A JSON value validated by `schema`. */
  json<T>(env: string, schema: z.ZodType<T>, o: Opts<T>): Setting<T> {
    return make(env, o, schema, (raw) => {
      let v: unknown;
      try {
        v = JSON.parse(raw);
      } catch {
        throw new Error('is not valid JSON');
      }
      const r = schema.safeParse(v);
      if (!r.success) {
        const i = r.error.issues[0];
        throw new Error(`${i?.path.length ? `[${i.path.join('.')}] ` : ''}${i?.message ?? 'invalid'}`);
      }
      return r.data;
    });
  },
  /** Anything else: a string parser (throwing Error) and the schema of its value. */
  custom<T>(env: string, schema: z.ZodType<T>, fromEnv: (raw: string) => T, o: Opts<T> & { emptyIsValue?: boolean }) {
    return { ...make(env, o, schema, fromEnv), emptyIsValue: o.emptyIsValue };
  },
};

export type SettingsTable = Readonly<Record<string, Setting<unknown>>>;

export type ConfigOf<S extends SettingsTable> = {
  readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/** Parse the environment once. Unset (or empty) variables take the default; a required one missing is an error. */
export function parseEnv<S extends SettingsTable>(
  table: S,
  env: Readonly<Record<string, string | undefined>>,
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(table)) {
    const raw = env[s.env];
    if (raw === undefined || (raw === '' && !s.emptyIsValue)) {
      if (s.default === undefined) throw new ConfigError(s.env, `is required (${s.help})`);
      out[key] = s.default;
      continue;
    }
    try {
      out[key] = s.fromEnv(raw);
    } catch (err) {
      throw new ConfigError(s.env, err instanceof Error ? err.message : String(err));
    }
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** Validate a programmatic config: the defaults, overridden by `partial`, each checked by its setting's schema. */
export function resolveSettings<S extends SettingsTable>(table: S, partial: Partial<ConfigOf<S>>): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const given = partial as Record<string, unknown>;
  for (const [key, s] of Object.entries(table)) {
    const v = given[key] !== undefined ? given[key] : s.default;
    if (v === undefined) throw new ConfigError(s.env, `is required (${s.help})`);
    const r = s.schema.safeParse(v);
    if (!r.success) throw new ConfigError(s.env, r.error.issues[0]?.message ?? 'invalid value');
    out[key] = r.data;
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** A z.object of the table's typed values with their defaults, e.g. to validate settings handed over as JSON. */
export function settingsSchema<S extends SettingsTable>(table: S) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, s] of Object.entries(table)) {
    const base = s.schema.meta({ description: `${s.help} (env ${s.env})` });
    shape[key] = s.default === undefined ? base : base.default(s.default);
  }
  return z.object(shape).strict() as unknown as z.ZodType<ConfigOf<S>, Partial<ConfigOf<S>>>;
}

/** The table as help text: one line per setting. */
export function describeSettings(table: SettingsTable): string {
  return Object.values(table)
    .map((s) => {
      const d =
        s.default === undefined ? '(required)' : s.secret ? '(secret)' : `(default ${JSON.stringify(s.default)})`;
      return `  ${s.env.padEnd(30)} ${s.help} ${d}`;
    })
    .join('\n');
}
