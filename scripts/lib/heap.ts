/**
 * V8 heap snapshots of the sandbox's Node processes, taken while a soak runs,
 * and what grew between two of them.
 *
 * The processes are started with `--heapsnapshot-signal=SIGUSR2` (Node's own
 * flag: no code in the services), so a snapshot is one `kill -USR2` away; Node
 * writes `Heap.<date>.<time>.<pid>.<thread>.<seq>.heapsnapshot` into
 * `--diagnostic-dir`. A snapshot pauses the process for about a second; media
 * does not pass through the controller or the VM agent, so the stream goes on.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** NODE_OPTIONS for a child that should write a snapshot on SIGUSR2 into `dir`. */
export function heapSnapshotNodeOptions(dir: string, existing = process.env.NODE_OPTIONS ?? ''): string {
  return `${existing} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`.trim();
}

function snapshotsOf(dir: string, pid: number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.heapsnapshot') && n.split('.')[3] === String(pid))
    .sort()
    .map((n) => join(dir, n));
}

/**
 * Signals `pid` and waits until its new snapshot file stops growing (Node
 * writes it in one go, but it takes a moment for tens of MB).
 */
export async function takeHeapSnapshot(dir: string, pid: number, timeoutMs = 60_000): Promise<string> {
  const before = new Set(snapshotsOf(dir, pid));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  let file: string | undefined;
  let lastSize = -1;
  while (Date.now() < deadline) {
    await sleep(500);
    file ??= snapshotsOf(dir, pid).find((f) => !before.has(f));
    if (!file) continue;
    const size = statSync(file).size;
    // A complete snapshot is a JSON object; the size stops changing once written.
    if (size > 0 && size === lastSize) return file;
    lastSize = size;
  }
  throw new Error(`no heap snapshot from pid ${pid} in ${dir} within ${timeoutMs} ms`);
}

export interface HeapGroup {
  /** "object Foo", "closure bar", "string", "array", … */
  key: string;
  count: number;
  bytes: number;
}

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[] } };
  nodes: number[];
  strings: string[];
}

function isSnapshotJson(v: unknown): v is SnapshotJson {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return Array.isArray(o.nodes) && Array.isArray(o.strings) && typeof o.snapshot === 'object';
}

/** Self size and count per constructor (objects, closures) or per kind (strings, arrays, code). */
export function summarizeHeapSnapshot(file: string): Map<string, HeapGroup> {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isSnapshotJson(parsed)) throw new Error(`${file} is not a V8 heap snapshot`);
  const fields = parsed.snapshot.meta.node_fields;
  const typeNames = parsed.snapshot.meta.node_types[0];
  if (!Array.isArray(typeNames)) throw new Error(`${file}: no node type names in the snapshot's meta`);
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups = new Map<string, HeapGroup>();
  const { nodes, strings } = parsed;
  for (let i = 0; i < nodes.length; i += width) {
    const type = String(typeNames[nodes[i + iType] ?? 0]);
    // Strings and arrays are grouped by kind: their "names" are their contents.
    const named = type === 'object' || type === 'closure' || type === 'native';
    const key = named ? `${type} ${strings[nodes[i + iName] ?? 0] ?? '?'}` : type;
    const g = groups.get(key) ?? { key, count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += nodes[i + iSize] ?? 0;
    groups.set(key, g);
  }
  return groups;
}

export interface HeapGrowth {
  key: string;
  countDelta: number;
  bytesDelta: number;
  bytesAfter: number;
}

export interface HeapDiff {
  totalBefore: number;
  totalAfter: number;
  top: HeapGrowth[];
}

/** The groups whose self size grew most from `before` to `after`. */
export function diffHeapSummaries(before: Map<string, HeapGroup>, after: Map<string, HeapGroup>, top = 10): HeapDiff {
  const total = (m: Map<string, HeapGroup>) => [...m.values()].reduce((s, g) => s + g.bytes, 0);
  const rows: HeapGrowth[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(key);
    const a = after.get(key);
    rows.push({
      key,
      countDelta: (a?.count ?? 0) - (b?.count ?? 0),
      bytesDelta: (a?.bytes ?? 0) - (b?.bytes ?? 0),
      bytesAfter: a?.bytes ?? 0,
    });
  }
  rows.sort((x, y) => y.bytesDelta - x.bytesDelta);
  return { totalBefore: total(before), totalAfter: total(after), top: rows.slice(0, top) };
}
