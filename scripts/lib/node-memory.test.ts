import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestController } from '../../master-controller/src/test/harness.js';
import { HealthTracker } from '../../vm-browser-agent/src/health.js';
import { NodeMemoryReader, promValue } from './node-memory.js';

describe("reading the Node processes' memory the way an operator does", () => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start({});
  });
  afterAll(() => t.close());

  it("reads the VM agent's latest reported memory from its health ring, nothing before a report", async () => {
    const vm = await t.createVm();
    const reader = new NodeMemoryReader(t.url, t.operatorToken, vm.vmId);
    expect(await reader.agent()).toBeUndefined();
    // The report the VM agent itself builds, with its memory reader fixed.
    const MB = 2 ** 20;
    const health = new HealthTracker(() => ({
      rss: 80 * MB,
      heapUsed: 17 * MB,
      heapTotal: 25 * MB,
      external: 0,
    })).report('down', null, 0, new Map());
    const hb = await t.call('POST', `/api/vms/${vm.vmId}/heartbeat`, { token: vm.vmToken, body: { health } });
    expect(hb.status).toBe(204);
    expect(await reader.agent()).toEqual({ rssMb: 80, heapUsedMb: 17, heapTotalMb: 25 });
  });

  it("reads the controller's own resident memory and V8 heap from its /metrics", async () => {
    const m = await new NodeMemoryReader(t.url, t.operatorToken, 'unused').controller();
    expect(m && m.rssMb > m.heapTotalMb && m.heapTotalMb >= m.heapUsedMb && m.heapUsedMb > 1).toBe(true);
  });

  it('takes an unlabelled series from Prometheus text, not a longer name that starts the same', () => {
    const text = '# HELP x_total a\nx_total_bytes 5\nx_total 12.5 1700000000\n';
    expect(promValue(text, 'x_total')).toBe(12.5);
    expect(promValue(text, 'y')).toBeUndefined();
  });
});
