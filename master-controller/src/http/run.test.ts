/** Run control over HTTP on both stores: steps, thumbnails, instructions, overrides. */
import { LIMITS } from '@vmlive/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, sleep, TestController, timed } from '../test/harness.js';

/** The smallest JPEG the controller accepts: SOI + a segment marker, then bytes. */
const jpeg = (n: number) => {
  const b = new Uint8Array(n);
  b.set([0xff, 0xd8, 0xff, 0xe0]);
  return b;
};

forEachStore(() => {
  let t: TestController;
  beforeAll(async () => {
    t = await TestController.start();
  });
  afterAll(() => t.close());

  /** A VM with one token of every kind. */
  async function vmWithTokens() {
    const vm = await t.createVm();
    const mint = await t.call('POST', `/api/vms/${vm.vmId}/automation-tokens`, { body: { ttlSeconds: 600 } });
    const other = await t.createVm();
    return {
      ...vm,
      automation: mint.body.token as string,
      control: await t.viewerToken(vm.vmId, 'control'),
      view: await t.viewerToken(vm.vmId, 'view'),
      otherVmControl: await t.viewerToken(other.vmId, 'control'),
    };
  }
  const step = (index: number, status = 'started', extra: object = {}) => ({
    index,
    action: 'click',
    status,
    ...extra,
  });

  describe('who may call', () => {
    it('steps are written by the automation only and read by viewers of either role, the operator and the automation', async () => {
      const v = await vmWithTokens();
      const post = (token: string) => t.call('POST', `/api/vms/${v.vmId}/steps`, { token, body: step(0) });
      expect((await post(v.automation)).status).toBe(200);
      for (const token of [v.control, v.view, v.vmToken, t.operatorToken, v.otherVmControl]) {
        const r = await post(token);
        expect(r.status).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
      for (const token of [v.control, v.view, t.operatorToken, v.automation]) {
        expect((await t.call('GET', `/api/vms/${v.vmId}/steps`, { token })).status).toBe(200);
      }
      expect((await t.call('GET', `/api/vms/${v.vmId}/steps`, { token: v.vmToken })).status).toBe(403);
      expect((await t.call('GET', `/api/vms/${v.vmId}/steps`, { token: v.otherVmControl })).status).toBe(403);
      expect((await t.call('GET', `/api/vms/${v.vmId}/steps`, { token: null })).status).toBe(401);
      // Nothing the refused writers sent was stored.
      expect((await t.call('GET', `/api/vms/${v.vmId}/steps`)).body.steps).toHaveLength(1);
    });

    it('instructions and overrides are written by a control viewer or the operator, never a view token or the automation', async () => {
      const v = await vmWithTokens();
      const put = (token: string) => t.call('PUT', `/api/vms/${v.vmId}/instructions`, { token, body: { text: 'x' } });
      const queue = (token: string) =>
        t.call('POST', `/api/vms/${v.vmId}/overrides`, { token, body: { action: { type: 'type', text: 'x' } } });
      for (const token of [v.control, t.operatorToken]) {
        expect((await put(token)).status).toBe(200);
        expect((await queue(token)).status).toBe(201);
      }
      for (const token of [v.view, v.automation, v.vmToken, v.otherVmControl]) {
        expect((await put(token)).status).toBe(403);
        expect((await queue(token)).status).toBe(403);
      }
      const ins = await t.call('GET', `/api/vms/${v.vmId}/instructions`, { token: v.automation });
      expect(ins.body.version).toBe(2);
      const ov = await t.call('GET', `/api/vms/${v.vmId}/overrides`, { token: v.automation });
      expect(ov.body.overrides).toHaveLength(2);
      // Acks come from the automation only.
      const id = ov.body.overrides[0].id;
      const ack = (token: string) =>
        t.call('POST', `/api/vms/${v.vmId}/overrides/${id}/ack`, { token, body: { result: 'done' } });
      expect((await ack(v.control)).status).toBe(403);
      expect((await ack(t.operatorToken)).status).toBe(403);
      expect((await ack(v.automation)).status).toBe(200);
    });
  });

  describe('steps', () => {
    it('a step reported again keeps its start time and box; its thumbnail is served and marks it', async () => {
      const v = await vmWithTokens();
      const box = { x: 10, y: 20, w: 30, h: 40 };
      const a = await t.call('POST', `/api/vms/${v.vmId}/steps`, {
        token: v.automation,
        body: step(0, 'started', { box, target: '#go' }),
      });
      await sleep(5);
      const b = await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(0, 'done') });
      expect(b.body).toMatchObject({ index: 0, status: 'done', box, target: '#go', startedAt: a.body.startedAt });
      expect(b.body.seq).toBeGreaterThan(a.body.seq);
      const put = await t.call('PUT', `/api/vms/${v.vmId}/steps/0/thumbnail`, {
        token: v.automation,
        raw: jpeg(1000),
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(put.status).toBe(204);
      const got = await t.call('GET', `/api/vms/${v.vmId}/steps/0/thumbnail`, { token: v.view });
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe('image/jpeg');
      const steps = await t.call('GET', `/api/vms/${v.vmId}/steps?since=${b.body.seq}`, { token: v.view });
      expect(steps.body.steps).toEqual([expect.objectContaining({ index: 0, thumbnail: true })]);
      const missing = await t.call('GET', `/api/vms/${v.vmId}/steps/1/thumbnail`, { token: v.view });
      expect(missing.body.error.code).toBe('step_not_found');
    });

    it('concurrent writers: every change after a cursor is read once, none lost, none repeated', async () => {
      const v = await vmWithTokens();
      const seen = new Map<number, string>();
      let cursor = 0;
      let reads = 0;
      const writers = Array.from({ length: 4 }, (_, w) =>
        (async () => {
          for (let i = 0; i < 10; i++) {
            const index = w * 10 + i;
            await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(index) });
            await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(index, 'done') });
          }
        })(),
      );
      const done = Promise.all(writers);
      let finished = false;
      void done.then(() => {
        finished = true;
      });
      const seqs = new Set<number>();
      while (!finished || reads === 0 || seen.size < 40 || [...seen.values()].some((s) => s !== 'done')) {
        const r = await t.call('GET', `/api/vms/${v.vmId}/steps?since=${cursor}&wait=2`, { token: v.control });
        reads++;
        for (const s of r.body.steps) {
          expect(seqs.has(s.seq)).toBe(false); // never the same change twice
          expect(s.seq).toBeGreaterThan(cursor);
          seqs.add(s.seq);
          seen.set(s.index, s.status);
        }
        cursor = r.body.cursor;
        if (finished && r.body.steps.length === 0) break;
      }
      await done;
      expect(seen.size).toBe(40);
      expect([...seen.values()].every((s) => s === 'done')).toBe(true);
    });

    it('a long-poll on the steps wakes at the report, not at its deadline', async () => {
      const v = await vmWithTokens();
      const poll = timed(t.call('GET', `/api/vms/${v.vmId}/steps?since=0&wait=10`, { token: v.view }));
      await sleep(200);
      await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(3) });
      const [r, ms] = await poll;
      expect(r.body.steps).toEqual([expect.objectContaining({ index: 3, status: 'started' })]);
      expect(ms).toBeLessThan(3000);
    });

    it('step 0 started again begins a new run with an empty timeline and no old thumbnails', async () => {
      const v = await vmWithTokens();
      for (const i of [0, 1]) await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(i) });
      await t.call('PUT', `/api/vms/${v.vmId}/steps/1/thumbnail`, {
        token: v.automation,
        raw: jpeg(100),
        headers: { 'content-type': 'image/jpeg' },
      });
      const before = await t.call('GET', `/api/vms/${v.vmId}/steps`, { token: v.view });
      // The same report of step 0 retried is not a new run...
      await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(0, 'done') });
      await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(0) });
      const after = await t.call('GET', `/api/vms/${v.vmId}/steps`, { token: v.view });
      expect(after.body.run).toBe(before.body.run + 1);
      expect(after.body.steps.map((s: { index: number }) => s.index)).toEqual([0]);
      expect((await t.call('GET', `/api/vms/${v.vmId}/steps/1/thumbnail`, { token: v.view })).status).toBe(404);
    });

    it(`keeps the ${LIMITS.stepsKept} highest step indexes of a run`, async () => {
      const v = await vmWithTokens();
      for (let i = 1; i <= LIMITS.stepsKept + 5; i++) {
        await t.call('POST', `/api/vms/${v.vmId}/steps`, { token: v.automation, body: step(i) });
      }
      const r = await t.call('GET', `/api/vms/${v.vmId}/steps`, { token: v.view });
      expect(r.body.steps).toHaveLength(LIMITS.stepsKept);
      expect(Math.min(...r.body.steps.map((s: { index: number }) => s.index))).toBe(6);
    });
  });

  describe('instructions', () => {
    it('are versioned; a long-poll since the held version wakes with the next one', async () => {
      const v = await vmWithTokens();
      const first = await t.call('GET', `/api/vms/${v.vmId}/instructions`, { token: v.automation });
      expect(first.body).toEqual({ text: '', version: 0, updatedAt: null });
      const poll = timed(t.call('GET', `/api/vms/${v.vmId}/instructions?since=0&wait=10`, { token: v.automation }));
      await sleep(200);
      const put = await t.call('PUT', `/api/vms/${v.vmId}/instructions`, {
        token: v.control,
        body: { text: 'Buy the blue one' },
      });
      expect(put.body).toMatchObject({ text: 'Buy the blue one', version: 1 });
      const [r, ms] = await poll;
      expect(r.body).toEqual(put.body);
      expect(ms).toBeLessThan(3000);
      // Waiting since the current version answers the same version at the deadline.
      const [idle, idleMs] = await timed(
        t.call('GET', `/api/vms/${v.vmId}/instructions?since=1&wait=0.3`, { token: v.automation }),
      );
      expect(idle.body.version).toBe(1);
      expect(idleMs).toBeGreaterThan(250);
    });
  });

  describe('overrides', () => {
    it('queued, read by the automation, acked once; a retried ack is answered alike and another result is 409', async () => {
      const v = await vmWithTokens();
      const poll = t.call('GET', `/api/vms/${v.vmId}/overrides?since=0&wait=10`, { token: v.automation });
      await sleep(100);
      const q = await t.call('POST', `/api/vms/${v.vmId}/overrides`, {
        token: v.control,
        body: { action: { type: 'click', x: 5, y: 6 } },
      });
      expect(q.status).toBe(201);
      expect(q.body).toMatchObject({ status: 'queued', action: { type: 'click', x: 5, y: 6 }, ackedAt: null });
      const got = await poll;
      expect(got.body.overrides).toEqual([q.body]);
      const watch = t.call('GET', `/api/vms/${v.vmId}/overrides?since=${got.body.cursor}&wait=10`, { token: v.view });
      const ackPath = `/api/vms/${v.vmId}/overrides/${q.body.id}/ack`;
      const ack = await t.call('POST', ackPath, { token: v.automation, body: { result: 'done', detail: 'ok' } });
      expect(ack.body).toMatchObject({ id: q.body.id, status: 'done', detail: 'ok' });
      expect((await watch).body.overrides).toEqual([ack.body]);
      const retry = await t.call('POST', ackPath, { token: v.automation, body: { result: 'done' } });
      expect(retry.body).toEqual(ack.body);
      const conflict = await t.call('POST', ackPath, { token: v.automation, body: { result: 'failed' } });
      expect(conflict.status).toBe(409);
      expect(conflict.body.error.code).toBe('override_acked');
      const unknown = await t.call('POST', `/api/vms/${v.vmId}/overrides/o999/ack`, {
        token: v.automation,
        body: { result: 'done' },
      });
      expect(unknown.body.error.code).toBe('override_not_found');
    });

    it(`refuses a queue past ${LIMITS.overridesPending} unacked overrides with 409 naming the field`, async () => {
      const v = await vmWithTokens();
      const queue = () =>
        t.call('POST', `/api/vms/${v.vmId}/overrides`, {
          token: v.control,
          body: { action: { type: 'type', text: 'a' } },
        });
      for (let i = 0; i < LIMITS.overridesPending; i++) expect((await queue()).status).toBe(201);
      const full = await queue();
      expect(full.status).toBe(409);
      expect(full.body.error).toMatchObject({ code: 'too_many_overrides', field: 'action' });
      await t.call('POST', `/api/vms/${v.vmId}/overrides/o1/ack`, { token: v.automation, body: { result: 'done' } });
      expect((await queue()).status).toBe(201);
    });
  });

  it('deleting the VM answers the open run long-polls with 404 and drops the run', async () => {
    const v = await vmWithTokens();
    const polls = ['steps', 'instructions?since=0', 'overrides'].map((p) =>
      t.call('GET', `/api/vms/${v.vmId}/${p}${p.includes('?') ? '&' : '?'}wait=10`, { token: v.automation }),
    );
    await sleep(200);
    await t.call('DELETE', `/api/vms/${v.vmId}`);
    for (const r of await Promise.all(polls)) expect(r.body.error.code).toBe('vm_not_found');
  });
});
