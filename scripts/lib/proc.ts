/**
 * CPU and RSS of processes (and optionally their descendants) from /proc.
 * CPU is reported in % of one core over the interval between two samples, so
 * 100 means one full core on this 2-core machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

interface ProcStat {
  ppid: number;
  ticks: number;
  rssKb: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const ticks = Number(rest[11]) + Number(rest[12]);
    const rssPages = Number(rest[21]);
    return { ppid, ticks, rssKb: (rssPages * 4096) / 1024 };
  } catch {
    return undefined;
  }
}

/** Every descendant of `root` (children, grandchildren, ...), from one scan of /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop() as number;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

export interface GroupSample {
  cpuPct: number;
  rssMb: number;
  alive: boolean;
}

/** A named group: fixed pids, or a root pid whose whole process tree is counted. */
export interface ProcGroup {
  pids: number[];
  tree?: boolean;
}

/**
 * Samples named groups of processes. `sample()` returns CPU since the previous
 * call (the first call primes the counters and reports 0).
 */
export class ProcSampler {
  private last = new Map<number, number>();
  private lastAt = 0;
  constructor(private readonly groups: Record<string, ProcGroup>) {}

  sample(): Record<string, GroupSample> {
    const now = performance.now();
    const dt = (now - this.lastAt) / 1000;
    const hz = ticksPerSecond();
    const out: Record<string, GroupSample> = {};
    const seen = new Map<number, number>();
    for (const [name, g] of Object.entries(this.groups)) {
      const pids = g.tree ? g.pids.flatMap((p) => [p, ...descendants(p)]) : g.pids;
      let ticks = 0;
      let rssKb = 0;
      let alive = false;
      for (const pid of pids) {
        const st = readStat(pid);
        if (!st) continue;
        alive = true;
        rssKb += st.rssKb;
        const prev = this.last.get(pid);
        // A process born since the last sample counts from its start.
        ticks += prev === undefined ? (this.lastAt ? st.ticks : 0) : st.ticks - prev;
        seen.set(pid, st.ticks);
      }
      out[name] = {
        cpuPct: this.lastAt && dt > 0 ? (ticks / hz / dt) * 100 : 0,
        rssMb: rssKb / 1024,
        alive,
      };
    }
    this.last = seen;
    this.lastAt = now;
    return out;
  }
}

/** Machine-wide CPU use in % of all cores since the previous call, from /proc/stat. */
export class SystemCpu {
  private prev: { busy: number; total: number } | undefined;
  private read() {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  }
  sample(): number {
    const cur = this.read();
    const prev = this.prev;
    this.prev = cur;
    if (!prev || cur.total === prev.total) return 0;
    return ((cur.busy - prev.busy) / (cur.total - prev.total)) * 100;
  }
}
