/** Prometheus metrics, one registry per controller (several can run in one test process). */
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly longPollsWaiting: Gauge;

  constructor(sessionCount: () => Promise<number>) {
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
        this.set(await sessionCount().catch(() => Number.NaN));
      },
    });
  }
}
