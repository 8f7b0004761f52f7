/** Prometheus metrics, one registry per controller (several can run in one test process). */
import type { HealthSample } from '@vmlive/protocol';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** One VM's row of the per-VM series: its latest health sample, if any. */
export interface VmMetricsRow {
  vmId: string;
  online: boolean;
  health: HealthSample | undefined;
}

export interface MetricsSources {
  sessionCount: () => Promise<number>;
  /** The oldest `max` VMs' rows (only their health is read), and how many VMs there are. */
  vms: (max: number) => Promise<{ rows: VmMetricsRow[]; total: number }>;
  /** Per-VM series for at most this many VMs: label cardinality stays bounded however many VMs register. */
  maxVms: number;
}

/** The per-VM gauges: name, help, and the value read from the row (undefined: no series). */
const PER_VM: ReadonlyArray<[string, string, (r: VmMetricsRow) => number | null | undefined]> = [
  ['vmlive_vm_online', 'The VM agent heartbeated or polled within VMLIVE_VM_ONLINE_S (1/0)', (r) => (r.online ? 1 : 0)],
  [
    'vmlive_vm_helper_up',
    "The VM's GStreamer helper answered its last stats probe (1/0)",
    (r) => r.health && (r.health.helper === 'up' ? 1 : 0),
  ],
  ['vmlive_vm_encoder_fps', 'Frames encoded per second, latest heartbeat', (r) => r.health?.fps],
  ['vmlive_vm_encoder_bitrate_kbps', 'Encoder target bitrate (kbit/s), latest heartbeat', (r) => r.health?.bitrateKbps],
  [
    'vmlive_vm_capture_to_send_ms',
    "VM side of the viewers' glass-to-glass: screen changed → RTP packet sent, p50 (ms), latest heartbeat",
    (r) => r.health?.captureToSendMs,
  ],
  [
    'vmlive_vm_helper_cpu_percent',
    "The helper process's CPU (% of one core), latest heartbeat",
    (r) => r.health?.cpuPercent,
  ],
  ['vmlive_vm_helper_rss_bytes', "The helper process's resident memory, latest heartbeat", (r) => r.health?.rssBytes],
  ['vmlive_vm_helper_restarts', 'Helper restarts since the VM agent started', (r) => r.health?.restarts],
  ['vmlive_vm_peers', 'Viewers connected to the helper', (r) => r.health?.peers],
  [
    'vmlive_vm_agent_rss_bytes',
    "The VM agent process's resident memory, latest heartbeat",
    (r) => r.health?.agent?.rssBytes,
  ],
  [
    'vmlive_vm_agent_heap_used_bytes',
    "The VM agent's V8 heap in use (live and not yet collected), latest heartbeat",
    (r) => r.health?.agent?.heapUsedBytes,
  ],
  [
    'vmlive_vm_agent_heap_total_bytes',
    "The VM agent's V8 heap committed, latest heartbeat",
    (r) => r.health?.agent?.heapTotalBytes,
  ],
];

export class Metrics {
  readonly registry = new Registry();
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly longPollsWaiting: Gauge;

  constructor(src: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'vmlive_controller_' });
    this.requestDuration = new Histogram({
      name: 'vmlive_http_request_duration_seconds',
      help: 'HTTP request latency by route (long-polls include their wait)',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.longPollsWaiting = new Gauge({
      name: 'vmlive_longpolls_waiting',
      help: 'Long-poll requests currently waiting',
      registers: [this.registry],
    });
    new Gauge({
      name: 'vmlive_sessions',
      help: 'Live signaling sessions',
      registers: [this.registry],
      async collect() {
        // A shared store that is down leaves the gauge at its last value rather than failing /metrics.
        this.set(await src.sessionCount().catch(() => Number.NaN));
      },
    });

    // One store read per scrape feeds every per-VM gauge: the first collect starts it, the
    // others of the same scrape (collected right after, in registration order) share it.
    let rows: { at: number; value: Promise<{ kept: VmMetricsRow[]; omitted: number }> } | null = null;
    const read = () => {
      const now = Date.now();
      if (!rows || now - rows.at > 1000) {
        const value = src
          .vms(src.maxVms)
          .then(({ rows, total }) => ({ kept: rows.slice(0, src.maxVms), omitted: Math.max(0, total - src.maxVms) }))
          .catch(() => ({ kept: [], omitted: 0 }));
        rows = { at: now, value };
      }
      return rows.value;
    };
    for (const [name, help, pick] of PER_VM) {
      new Gauge({
        name,
        help,
        labelNames: ['vm'],
        registers: [this.registry],
        async collect() {
          const { kept } = await read();
          // reset: a deleted VM's series disappears instead of repeating its last value.
          this.reset();
          for (const r of kept) {
            const v = pick(r);
            if (v !== undefined && v !== null) this.set({ vm: r.vmId }, v);
          }
        },
      });
    }
    new Gauge({
      name: 'vmlive_vm_metrics_omitted',
      help: 'VMs without per-VM series because VMLIVE_METRICS_MAX_VMS was reached',
      registers: [this.registry],
      async collect() {
        this.set((await read()).omitted);
      },
    });
  }
}
