/** Output helpers: aligned text tables, JSON/CSV files, number formatting, exit codes. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';

/** Exit codes shared by the scripts. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, prerequisite: 3 });

export function fmt(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return v.toFixed(digits);
}

/** Renders rows as an aligned text table (first column left, the rest right-aligned). */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0] ?? []), sep, ...cells.slice(1).map(line)].join('\n');
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function writeCsv(path: string, rows: Record<string, string | number | boolean | null>[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const headers = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const esc = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const body = rows.map((r) => headers.map((h) => esc(r[h])).join(','));
  writeFileSync(path, `${[headers.join(','), ...body].join('\n')}\n`);
}

/** A missing tool or unreachable service: a clear message and a distinct exit code. */
export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

/** Runs main(), mapping PrerequisiteError to exit 3 and anything else to exit 1. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof PrerequisiteError) {
        console.error(`${name}: missing prerequisite: ${err.message}`);
        process.exit(EXIT.prerequisite);
      }
      console.error(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(EXIT.failed);
    },
  );
}

/** One line describing the machine and how busy it is (the numbers depend on it). */
export function machineLine(): string {
  const [l1, l5] = loadavg();
  return `${cpus().length} cores, load average ${l1?.toFixed(1)} (1 min) / ${l5?.toFixed(1)} (5 min)`;
}
