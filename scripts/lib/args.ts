/**
 * One table of options per script (name, type, default, help), parsed once and
 * frozen. `--help` prints the table; a bad value exits 2 with a clear message.
 */

export type OptType = 'number' | 'string' | 'boolean' | 'list';
interface OptBase {
  help: string;
}
export type OptSpec =
  | (OptBase & { type: 'number'; default?: number })
  | (OptBase & { type: 'string'; default?: string })
  | (OptBase & { type: 'boolean'; default?: boolean })
  | (OptBase & { type: 'list'; default?: string[] });

type ValueOf<S extends OptSpec> = S extends { type: 'number' }
  ? number
  : S extends { type: 'string' }
    ? string
    : S extends { type: 'boolean' }
      ? boolean
      : string[];

export type Parsed<T extends Record<string, OptSpec>> = {
  readonly [K in keyof T]: T[K] extends { default: unknown } | { type: 'boolean' }
    ? ValueOf<T[K]>
    : ValueOf<T[K]> | undefined;
};

export const EXIT_USAGE = 2;

export function usage(name: string, summary: string, specs: Record<string, OptSpec>): string {
  const lines = [`usage: npx tsx scripts/${name}.ts [options]`, '', summary, '', 'options:'];
  for (const [key, spec] of Object.entries(specs)) {
    const flag = spec.type === 'boolean' ? `--${key}` : `--${key} <${spec.type === 'list' ? 'a,b' : spec.type}>`;
    const def =
      spec.default === undefined || spec.default === false
        ? ''
        : ` (default: ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)})`;
    lines.push(`  ${flag.padEnd(34)} ${spec.help}${def}`);
  }
  lines.push(`  ${'--help'.padEnd(34)} show this help`);
  return lines.join('\n');
}

export function parseArgs<T extends Record<string, OptSpec>>(
  name: string,
  summary: string,
  specs: T,
  argv: string[] = process.argv.slice(2),
): Parsed<T> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(specs)) out[k] = s.default ?? (s.type === 'boolean' ? false : undefined);
  const fail = (msg: string): never => {
    console.error(`${name}: ${msg}\n\n${usage(name, summary, specs)}`);
    process.exit(EXIT_USAGE);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      console.log(usage(name, summary, specs));
      process.exit(0);
    }
    if (!arg.startsWith('--')) fail(`unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = specs[key];
    if (!spec) return fail(`unknown option --${key}`);
    if (spec.type === 'boolean') {
      out[key] = eq > 0 ? arg.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) return fail(`--${key} needs a value`);
    if (spec.type === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) fail(`--${key} must be a number, got ${raw}`);
      out[key] = n;
    } else if (spec.type === 'list') {
      out[key] = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    } else {
      out[key] = raw;
    }
  }
  return Object.freeze(out) as Parsed<T>;
}
