/** The automation client against a real controller (memory store). */
import type { Instructions } from '@vmlive/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, TestController } from '../../master-controller/src/test/harness.js';
import { type Automation, connect } from './automation.js';

describe('@vmlive/automation', () => {
  let t: TestController;
  const open: Automation[] = [];
  beforeAll(async () => {
    t = await TestController.start({ store: 'memory' });
  });
  afterAll(async () => {
    for (const a of open) a.close();
    await t.close();
  });

  async function setup() {
    const { vmId } = await t.createVm();
    const token = (await t.call('POST', `/api/vms/${vmId}/automation-tokens`, { body: { ttlSeconds: 600 } })).body
      .token;
    const a = await connect({ controllerUrl: t.url, vmId, token, waitSeconds: 5 });
    open.push(a);
    return { vmId, a, control: await t.viewerToken(vmId, 'control') };
  }

  it('waitUntilMayAct holds while the VM is paused and resolves when it is resumed', async () => {
    const { vmId, a } = await setup();
    expect(a.mayAct).toBe(true);
    await t.call('POST', `/api/vms/${vmId}/control`, { body: { action: 'pause' } });
    for (let i = 0; i < 100 && a.mayAct; i++) await sleep(20);
    expect(a.control.mode).toBe('paused');
    let resolved = false;
    const waiting = a.waitUntilMayAct().then(() => {
      resolved = true;
    });
    await sleep(300);
    expect(resolved).toBe(false);
    await t.call('POST', `/api/vms/${vmId}/control`, { body: { action: 'resume' } });
    await waiting;
    expect(a.control.mode).toBe('agent');
  });

  it('receives each new version of the instructions', async () => {
    const { vmId, a, control } = await setup();
    const got: Instructions[] = [];
    a.onInstructions((i) => got.push(i));
    await t.call('PUT', `/api/vms/${vmId}/instructions`, { token: control, body: { text: 'first' } });
    for (let i = 0; i < 100 && got.length < 1; i++) await sleep(20);
    await t.call('PUT', `/api/vms/${vmId}/instructions`, { token: control, body: { text: 'second' } });
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(20);
    expect(got.map((i) => [i.version, i.text])).toEqual([
      [1, 'first'],
      [2, 'second'],
    ]);
    expect(a.instructions.text).toBe('second');
  });

  it('hands out each queued override once, waits for the next, and acks it for the viewers', async () => {
    const { vmId, a, control } = await setup();
    const queue = (text: string) =>
      t.call('POST', `/api/vms/${vmId}/overrides`, { token: control, body: { action: { type: 'type', text } } });
    await queue('one');
    const first = await a.nextOverride({ wait: true });
    expect(first?.action).toEqual({ type: 'type', text: 'one' });
    expect(await a.nextOverride()).toBeUndefined();
    const next = a.nextOverride({ wait: true });
    await sleep(100);
    await queue('two');
    expect((await next)?.action).toEqual({ type: 'type', text: 'two' });
    if (!first) throw new Error('no override');
    await a.ack(first.id, 'done');
    const seen = await t.call('GET', `/api/vms/${vmId}/overrides`, { token: control });
    // In change order: the second was queued before the first was acked.
    expect(seen.body.overrides.map((o: { id: string; status: string }) => [o.id, o.status])).toEqual([
      ['o2', 'queued'],
      ['o1', 'done'],
    ]);
  });

  it('reports steps and their thumbnails to the timeline', async () => {
    const { vmId, a, control } = await setup();
    await a.reportStep({
      index: 0,
      action: 'click',
      target: '#go',
      status: 'started',
      box: { x: 1, y: 2, w: 3, h: 4 },
    });
    await a.attachThumbnail(0, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2]));
    await a.reportStep({ index: 0, action: 'click', status: 'done' });
    const r = await t.call('GET', `/api/vms/${vmId}/steps`, { token: control });
    expect(r.body.steps).toEqual([
      expect.objectContaining({
        index: 0,
        status: 'done',
        target: '#go',
        thumbnail: true,
        box: { x: 1, y: 2, w: 3, h: 4 },
      }),
    ]);
  });
});
