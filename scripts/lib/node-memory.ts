/**
 * Where the memory of the two Node processes of the local sandbox sits, read the way an operator
 * reads it: the VM agent's from its latest health sample (`agent`, protocol AgentProcess), the
 * controller's from its own `/metrics` (prom-client's process and heap metrics). A soak uses it
 * to tell JavaScript objects (heap in use) from V8 keeping pages (heap committed) from native
 * memory (resident minus committed heap), which /proc's RSS alone cannot.
 */

export interface NodeMemory {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
}

const MB = 1024 * 1024;

/** One value of a Prometheus text exposition (an unlabelled series), or undefined. */
export function promValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  const v =
    line === undefined
      ? Number.NaN
      : Number(
          line
            .slice(name.length + 1)
            .trim()
            .split(/\s+/)[0],
        );
  return Number.isFinite(v) ? v : undefined;
}

export class NodeMemoryReader {
  constructor(
    private readonly controllerUrl: string,
    private readonly operatorToken: string,
    private readonly vmId: string,
  ) {}

  /** The agent's latest report (a heartbeat is 5 s apart by default), or undefined before one. */
  async agent(): Promise<NodeMemory | undefined> {
    const r = await fetch(`${this.controllerUrl}/api/vms/${encodeURIComponent(this.vmId)}/health`, {
      headers: { authorization: `Bearer ${this.operatorToken}` },
    });
    if (!r.ok) throw new Error(`GET health: ${r.status}`);
    const body = (await r.json()) as {
      samples: { agent?: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number } }[];
    };
    const a = body.samples.at(-1)?.agent;
    return a && { rssMb: a.rssBytes / MB, heapUsedMb: a.heapUsedBytes / MB, heapTotalMb: a.heapTotalBytes / MB };
  }

  async controller(): Promise<NodeMemory | undefined> {
    const r = await fetch(`${this.controllerUrl}/metrics`);
    if (!r.ok) throw new Error(`GET /metrics: ${r.status}`);
    const text = await r.text();
    const rss = promValue(text, 'vmlive_controller_process_resident_memory_bytes');
    const used = promValue(text, 'vmlive_controller_nodejs_heap_size_used_bytes');
    const total = promValue(text, 'vmlive_controller_nodejs_heap_size_total_bytes');
    if (rss === undefined || used === undefined || total === undefined) return undefined;
    return { rssMb: rss / MB, heapUsedMb: used / MB, heapTotalMb: total / MB };
  }
}
