/**
 * Estimates (controller clock − this machine's clock) in ms from the HTTP Date
 * header, which has 1 s resolution: we poll until the header's second changes
 * and place that boundary halfway between the two requests that straddle it.
 * The error is about half the polling step plus half the round trip. The
 * latency scripts use the result as the VM's clock offset, which assumes the VM
 * and the controller agree (e.g. both NTP-synced); when they do not, measure
 * the VM's offset yourself and pass --clock-offset-ms.
 */

export interface OffsetEstimate {
  offsetMs: number;
  errorMs: number;
}

export async function estimateClockOffset(controllerUrl: string, maxMs = 3000): Promise<OffsetEstimate> {
  const url = new URL('/healthz', controllerUrl);
  const probe = async () => {
    const t0 = Date.now();
    const res = await fetch(url, { method: 'GET', cache: 'no-store' });
    const t1 = Date.now();
    await res.arrayBuffer();
    const date = res.headers.get('date');
    if (!date) throw new Error('controller sent no Date header');
    return { sec: Date.parse(date), mid: (t0 + t1) / 2, rtt: t1 - t0 };
  };
  const deadline = Date.now() + maxMs;
  let prev = await probe();
  while (Date.now() < deadline) {
    const cur = await probe();
    if (cur.sec !== prev.sec) {
      const boundaryLocal = (prev.mid + cur.mid) / 2;
      return { offsetMs: cur.sec - boundaryLocal, errorMs: (cur.mid - prev.mid) / 2 + Math.max(cur.rtt, prev.rtt) / 2 };
    }
    prev = cur;
  }
  throw new Error(`no Date second boundary seen within ${maxMs} ms`);
}
