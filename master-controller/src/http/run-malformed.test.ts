/** Malformed and over-limit run-control requests: each its 4xx naming the field, and the run unchanged. */
import { LIMITS } from '@vmlive/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, TestController } from '../test/harness.js';

forEachStore(() => {
  let t: TestController;
  let vmId: string;
  let automation: string;
  let control: string;
  beforeAll(async () => {
    t = await TestController.start();
    ({ vmId } = await t.createVm());
    automation = (await t.call('POST', `/api/vms/${vmId}/automation-tokens`, { body: { ttlSeconds: 600 } })).body.token;
    control = await t.viewerToken(vmId, 'control');
    await t.call('POST', `/api/vms/${vmId}/steps`, {
      token: automation,
      body: { index: 0, action: 'go', status: 'started' },
    });
    await t.call('POST', `/api/vms/${vmId}/overrides`, {
      token: control,
      body: { action: { type: 'type', text: 'a' } },
    });
  });
  afterAll(() => t.close());

  interface Case {
    name: string;
    method: string;
    path: string;
    who: 'automation' | 'control';
    body?: unknown;
    raw?: string | Uint8Array<ArrayBuffer>;
    contentType?: string;
    status: number;
    code: string;
    field?: string;
  }
  const big = (n: number) => 'a'.repeat(n);
  const stepBody = (extra: object) => ({ index: 1, action: 'click', status: 'started', ...extra });
  const overrideBody = (action: unknown) => ({ action });
  const jpegOf = (n: number) => {
    const b = new Uint8Array(n);
    b.set([0xff, 0xd8, 0xff, 0xe0]);
    return b;
  };

  const cases: Case[] = [
    {
      name: 'step: malformed JSON',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      raw: '{"index":',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'step: no index',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: { action: 'a', status: 'done' },
      status: 400,
      code: 'invalid_body',
      field: 'index',
    },
    {
      name: 'step: negative index',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ index: -1 }),
      status: 400,
      code: 'invalid_body',
      field: 'index',
    },
    {
      name: 'step: fractional index',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ index: 1.5 }),
      status: 400,
      code: 'invalid_body',
      field: 'index',
    },
    {
      name: 'step: index past the limit',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ index: LIMITS.stepIndexMax }),
      status: 400,
      code: 'invalid_body',
      field: 'index',
    },
    {
      name: 'step: unknown status',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ status: 'running' }),
      status: 400,
      code: 'invalid_body',
      field: 'status',
    },
    {
      name: 'step: empty action',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ action: '' }),
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'step: action too long',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ action: big(LIMITS.stepActionChars + 1) }),
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'step: target too long',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ target: big(LIMITS.stepTargetChars + 1) }),
      status: 400,
      code: 'invalid_body',
      field: 'target',
    },
    {
      name: 'step: detail too long',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ detail: big(LIMITS.stepDetailChars + 1) }),
      status: 400,
      code: 'invalid_body',
      field: 'detail',
    },
    {
      name: 'step: box without h',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ box: { x: 1, y: 1, w: 1 } }),
      status: 400,
      code: 'invalid_body',
      field: 'box.h',
    },
    {
      name: 'step: negative box width',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ box: { x: 1, y: 1, w: -1, h: 1 } }),
      status: 400,
      code: 'invalid_body',
      field: 'box.w',
    },
    {
      name: 'step: unknown field',
      method: 'POST',
      path: 'steps',
      who: 'automation',
      body: stepBody({ colour: 'red' }),
      status: 400,
      code: 'invalid_body',
    },
    {
      name: 'thumbnail: not a JPEG',
      method: 'PUT',
      path: 'steps/0/thumbnail',
      who: 'automation',
      raw: 'not a jpeg',
      contentType: 'image/jpeg',
      status: 400,
      code: 'invalid_body',
      field: 'thumbnail',
    },
    {
      name: 'thumbnail: wrong media type',
      method: 'PUT',
      path: 'steps/0/thumbnail',
      who: 'automation',
      raw: jpegOf(10),
      contentType: 'image/png',
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'thumbnail: too large',
      method: 'PUT',
      path: 'steps/0/thumbnail',
      who: 'automation',
      raw: jpegOf(LIMITS.thumbnailBytes + 1),
      contentType: 'image/jpeg',
      status: 413,
      code: 'body_too_large',
    },
    {
      name: 'thumbnail: unreported step',
      method: 'PUT',
      path: 'steps/7/thumbnail',
      who: 'automation',
      raw: jpegOf(10),
      contentType: 'image/jpeg',
      status: 404,
      code: 'step_not_found',
    },
    {
      name: 'thumbnail: index not a number',
      method: 'PUT',
      path: 'steps/x/thumbnail',
      who: 'automation',
      raw: jpegOf(10),
      contentType: 'image/jpeg',
      status: 404,
      code: 'step_not_found',
    },
    {
      name: 'instructions: text not a string',
      method: 'PUT',
      path: 'instructions',
      who: 'control',
      body: { text: 5 },
      status: 400,
      code: 'invalid_body',
      field: 'text',
    },
    {
      name: 'instructions: text too long',
      method: 'PUT',
      path: 'instructions',
      who: 'control',
      body: { text: big(LIMITS.instructionsBytes + 1) },
      status: 400,
      code: 'invalid_body',
      field: 'text',
    },
    {
      name: 'instructions: multi-byte text over the byte limit',
      method: 'PUT',
      path: 'instructions',
      who: 'control',
      body: { text: 'é'.repeat(LIMITS.instructionsBytes / 2 + 1) },
      status: 400,
      code: 'invalid_body',
      field: 'text',
    },
    {
      name: 'override: no action',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: {},
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'override: unknown type',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: overrideBody({ type: 'drag' }),
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'override: click with neither x,y nor selector',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: overrideBody({ type: 'click' }),
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'override: click x as a string',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: overrideBody({ type: 'click', x: '1', y: 2 }),
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'override: empty text',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: overrideBody({ type: 'type', text: '' }),
      status: 400,
      code: 'invalid_body',
      field: 'action.text',
    },
    {
      name: 'override: text too long',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: overrideBody({ type: 'type', text: big(LIMITS.overrideTextChars + 1) }),
      status: 400,
      code: 'invalid_body',
      field: 'action.text',
    },
    {
      name: 'override: javascript: URL',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: overrideBody({ type: 'navigate', url: 'javascript:alert(1)' }),
      status: 400,
      code: 'invalid_body',
      field: 'action.url',
    },
    {
      name: 'override: scroll without dy',
      method: 'POST',
      path: 'overrides',
      who: 'control',
      body: overrideBody({ type: 'scroll', dx: 1 }),
      status: 400,
      code: 'invalid_body',
      field: 'action',
    },
    {
      name: 'ack: unknown result',
      method: 'POST',
      path: 'overrides/o1/ack',
      who: 'automation',
      body: { result: 'maybe' },
      status: 400,
      code: 'invalid_body',
      field: 'result',
    },
    {
      name: 'ack: detail too long',
      method: 'POST',
      path: 'overrides/o1/ack',
      who: 'automation',
      body: { result: 'done', detail: big(LIMITS.stepDetailChars + 1) },
      status: 400,
      code: 'invalid_body',
      field: 'detail',
    },
    {
      name: 'ack: malformed id',
      method: 'POST',
      path: 'overrides/..%2F/ack',
      who: 'automation',
      body: { result: 'done' },
      status: 404,
      code: 'override_not_found',
    },
    {
      name: 'steps: negative cursor',
      method: 'GET',
      path: 'steps?since=-1',
      who: 'control',
      status: 400,
      code: 'invalid_query',
      field: 'since',
    },
    {
      name: 'steps: wait past the limit',
      method: 'GET',
      path: `steps?wait=${LIMITS.maxWaitSeconds + 1}`,
      who: 'control',
      status: 400,
      code: 'invalid_query',
      field: 'wait',
    },
    {
      name: 'instructions: version not a number',
      method: 'GET',
      path: 'instructions?since=v2',
      who: 'automation',
      status: 400,
      code: 'invalid_query',
      field: 'since',
    },
  ];

  /** Everything a malformed request could have changed. */
  const state = async () => ({
    steps: (await t.call('GET', `/api/vms/${vmId}/steps`)).body,
    instructions: (await t.call('GET', `/api/vms/${vmId}/instructions`)).body,
    overrides: (await t.call('GET', `/api/vms/${vmId}/overrides`)).body,
    thumbnail: (await t.call('GET', `/api/vms/${vmId}/steps/0/thumbnail`)).status,
  });

  describe('malformed run-control requests', () => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const before = await state();
      const headers: Record<string, string> = {};
      if (c.contentType) headers['content-type'] = c.contentType;
      else if (c.raw !== undefined) headers['content-type'] = 'application/json';
      const r = await t.call(c.method, `/api/vms/${vmId}/${c.path}`, {
        token: c.who === 'automation' ? automation : control,
        ...(c.raw !== undefined ? { raw: c.raw } : c.body !== undefined ? { body: c.body } : {}),
        headers,
      });
      expect(r.status).toBe(c.status);
      expect(r.body.error.code).toBe(c.code);
      if (c.field) expect(r.body.error.field).toBe(c.field);
      expect(await state()).toEqual(before);
    });
  });
});
