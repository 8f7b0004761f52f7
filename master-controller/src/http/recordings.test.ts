/**
 * Recordings over HTTP (issue 19): who may start, stop, list, upload and play; the VM agent's
 * sessions poll carrying (and waking on) the order; malformed requests refused naming the field
 * with nothing stored; uploads retried idempotently; Range requests; retention by bytes; a
 * deleted VM's files gone.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachStore, TestController, timed } from '../test/harness.js';

/** Bytes that pass the upload's check: the EBML magic of a WebM file, then filler. */
const webm = (bytes: number, fill = 7): Uint8Array<ArrayBuffer> => {
  const b = new Uint8Array(bytes).fill(fill);
  b.set([0x1a, 0x45, 0xdf, 0xa3]);
  return b;
};
const mp4 = (bytes: number): Uint8Array<ArrayBuffer> => {
  const b = new Uint8Array(bytes).fill(1);
  b.set([0, 0, 0, 24, 0x66, 0x74, 0x79, 0x70]);
  return b;
};
const KIB = 1024;

forEachStore(() => {
  let t: TestController;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vmlive-rec-http-'));
    // 1 MiB per VM: the retention case stores three 400 KiB segments.
    t = await TestController.start({ recordingsDir: dir, recordingsMaxBytes: 1024 * KIB, recordingSegmentS: 10 });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (vmId: string, body: unknown = {}, token = t.operatorToken) =>
    t.call('POST', `/api/vms/${vmId}/recordings`, { token, body });
  const stop = (vmId: string, recordingId: string, token = t.operatorToken) =>
    t.call('POST', `/api/vms/${vmId}/recordings/${recordingId}/stop`, { token });
  const list = (vmId: string, token = t.operatorToken) => t.call('GET', `/api/vms/${vmId}/recordings`, { token });
  const upload = (
    vmId: string,
    recordingId: string,
    token: string,
    query: string,
    raw: Uint8Array<ArrayBuffer> = webm(2 * KIB),
    type = 'video/webm',
  ) =>
    t.call('POST', `/api/vms/${vmId}/recordings/${recordingId}/segments${query}`, {
      token,
      raw,
      headers: { 'content-type': type },
    });
  const segments = async (vmId: string) =>
    (await list(vmId)).body.recordings.flatMap((r: { segments: [] }) => r.segments);
  /** A VM recording, with one 2 KiB segment uploaded. */
  const recorded = async () => {
    const vm = await t.createVm();
    const rec = await start(vm.vmId);
    expect(rec.status).toBe(201);
    const up = await upload(vm.vmId, rec.body.recordingId, vm.vmToken, '?startedAt=1000000&durationMs=10000');
    expect(up.status).toBe(201);
    const [seg] = await segments(vm.vmId);
    return { ...vm, recordingId: rec.body.recordingId as string, url: seg.url as string };
  };

  describe('who may do what', () => {
    it('start, stop and list: the operator only (no token 401; viewer, automation, VM tokens 403)', async () => {
      const vm = await t.createVm();
      const rec = await start(vm.vmId);
      expect(rec.status).toBe(201);
      const automation = (await t.call('POST', `/api/vms/${vm.vmId}/automation-tokens`, { body: { ttlSeconds: 60 } }))
        .body.token as string;
      const others = [
        await t.viewerToken(vm.vmId, 'control'),
        await t.viewerToken(vm.vmId, 'view'),
        automation,
        vm.vmToken,
      ];
      for (const token of others) {
        expect((await start(vm.vmId, {}, token)).status).toBe(403);
        expect((await stop(vm.vmId, rec.body.recordingId, token)).status).toBe(403);
        expect((await list(vm.vmId, token)).status).toBe(403);
      }
      expect((await list(vm.vmId, null as unknown as string)).status).toBe(401);
      const after = await list(vm.vmId);
      expect(after.body.active).toBe(rec.body.recordingId);
      expect(after.body.recordings).toHaveLength(1);
      expect(after.body.recordings[0].stoppedAt).toBeNull();
    });

    it("uploads: the VM's own token only; the operator, a viewer and another VM's token 403, and nothing is stored", async () => {
      const vm = await t.createVm();
      const other = await t.createVm();
      const rec = (await start(vm.vmId)).body.recordingId as string;
      for (const token of [t.operatorToken, await t.viewerToken(vm.vmId), other.vmToken]) {
        const r = await upload(vm.vmId, rec, token, '?startedAt=1&durationMs=1');
        expect(r.status).toBe(403);
      }
      expect(await segments(vm.vmId)).toEqual([]);
      expect((await upload(vm.vmId, rec, vm.vmToken, '?startedAt=1&durationMs=1')).status).toBe(201);
    });

    it('a segment plays with its signed url and no token, or with the operator token; never with a viewer token, a tampered or another segment’s signature', async () => {
      const { vmId, recordingId, url, vmToken } = await recorded();
      expect(url).toMatch(new RegExp(`^/api/vms/${vmId}/recordings/${recordingId}/segments/0\\?exp=\\d+&sig=`));
      const signed = await t.call('GET', url, { token: null });
      expect(signed.status).toBe(200);
      expect(signed.headers.get('content-type')).toBe('video/webm');
      const bare = url.split('?')[0] as string;
      expect((await t.call('GET', bare)).status).toBe(200);
      expect((await t.call('GET', bare, { token: null })).status).toBe(401);
      expect((await t.call('GET', bare, { token: await t.viewerToken(vmId, 'control') })).status).toBe(403);
      expect((await t.call('GET', bare, { token: vmToken })).status).toBe(403);
      const tampered = url.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
      expect((await t.call('GET', tampered, { token: null })).status).toBe(401);
      await upload(vmId, recordingId, vmToken, '?startedAt=2000000&durationMs=10000');
      // segment 0's grant does not open segment 1
      const moved = url.replace('/segments/0?', '/segments/1?');
      expect((await t.call('GET', moved, { token: null })).status).toBe(401);
      const stale = url.replace(/exp=\d+/, 'exp=1000');
      const r = await t.call('GET', stale, { token: null });
      expect(r.status).toBe(401);
    });
  });

  describe('start and stop', () => {
    it('one recording at a time: a second start is 409 recording_active and changes nothing; stop is idempotent; unknown ids 404', async () => {
      const vm = await t.createVm();
      const first = await start(vm.vmId, { segmentSeconds: 5 });
      expect(first.body).toMatchObject({ stoppedAt: null, segmentSeconds: 5, segments: [], bytes: 0 });
      expect(first.body.startedBy).toEqual({ role: 'operator' });
      const again = await start(vm.vmId);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('recording_active');
      expect((await list(vm.vmId)).body.recordings).toHaveLength(1);
      const stopped = await stop(vm.vmId, first.body.recordingId);
      expect(stopped.status).toBe(200);
      expect(stopped.body.stoppedAt).toBeGreaterThanOrEqual(first.body.startedAt);
      const twice = await stop(vm.vmId, first.body.recordingId);
      expect(twice.body.stoppedAt).toBe(stopped.body.stoppedAt);
      expect((await list(vm.vmId)).body.active).toBeNull();
      expect((await stop(vm.vmId, 'nope')).body.error.code).toBe('recording_not_found');
      expect((await stop('nope', first.body.recordingId)).status).toBe(404);
      expect((await start('nope')).status).toBe(404);
      // the listing links the audit trail of the recording's span
      const [rec] = (await list(vm.vmId)).body.recordings;
      expect(rec.auditUrl).toBe(`/api/vms/${vm.vmId}/audit?from=${rec.startedAt}&to=${rec.stoppedAt}`);
      expect((await t.call('GET', rec.auditUrl)).status).toBe(200);
      expect((await start(vm.vmId)).status).toBe(201);
    });

    it("the VM agent's sessions poll carries the order, and a waiting poll wakes when recording starts and stops", async () => {
      const vm = await t.createVm();
      const poll = (query: string) =>
        t.call('GET', `/api/vms/${vm.vmId}/sessions?wait=10${query}`, { token: vm.vmToken });
      const idle = await t.call('GET', `/api/vms/${vm.vmId}/sessions`, { token: vm.vmToken });
      expect(idle.body.recording).toBeNull();
      const waiting = timed(poll('&recording='));
      await new Promise((r) => setTimeout(r, 300));
      const rec = (await start(vm.vmId, { segmentSeconds: 7 })).body.recordingId as string;
      const [woke, ms] = await waiting;
      expect(ms).toBeLessThan(5000);
      expect(woke.body.recording).toEqual({ recordingId: rec, segmentSeconds: 7 });
      const waitingStop = timed(poll(`&recording=${rec}`));
      await new Promise((r) => setTimeout(r, 300));
      await stop(vm.vmId, rec);
      const [stopped, ms2] = await waitingStop;
      expect(ms2).toBeLessThan(5000);
      expect(stopped.body.recording).toBeNull();
      const bad = await t.call('GET', `/api/vms/${vm.vmId}/sessions?recording=a%20b`, { token: vm.vmToken });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe('recording');
    });
  });

  describe('record every run', () => {
    const policy = (vmId: string, body: unknown, token = t.operatorToken) =>
      t.call('PUT', `/api/vms/${vmId}/recording-policy`, { token, body });
    const step = (vmId: string, automation: string, index: number) =>
      t.call('POST', `/api/vms/${vmId}/steps`, {
        token: automation,
        body: { index, action: 'click', status: 'started' },
      });

    it('each new run of the automation gets a recording of its own (started by the controller); off, runs change nothing', async () => {
      const vm = await t.createVm();
      const automation = (await t.call('POST', `/api/vms/${vm.vmId}/automation-tokens`, { body: { ttlSeconds: 60 } }))
        .body.token as string;
      expect((await policy(vm.vmId, { everyRun: true, segmentSeconds: 5 })).body).toEqual({
        everyRun: true,
        segmentSeconds: 5,
      });
      expect((await step(vm.vmId, automation, 0)).status).toBe(200);
      await step(vm.vmId, automation, 1);
      const first = (await list(vm.vmId)).body;
      expect(first.recordings).toHaveLength(1);
      expect(first.recordings[0]).toMatchObject({
        stoppedAt: null,
        segmentSeconds: 5,
        startedBy: { role: 'controller' },
      });
      expect(first.active).toBe(first.recordings[0].recordingId);
      // step 0 again over a timeline: a new run
      await step(vm.vmId, automation, 0);
      const second = (await list(vm.vmId)).body;
      expect(second.recordings).toHaveLength(2);
      expect(second.recordings[0].stoppedAt).not.toBeNull();
      expect(second.active).toBe(second.recordings[1].recordingId);
      expect((await policy(vm.vmId, { everyRun: false })).body).toEqual({ everyRun: false });
      await step(vm.vmId, automation, 1);
      await step(vm.vmId, automation, 0);
      const third = (await list(vm.vmId)).body;
      expect(third.recordings).toHaveLength(2);
      expect(third.active).toBe(second.active);
      expect(third.policy).toEqual({ everyRun: false });
    });

    it('the policy: operator only, body checked naming the field, nothing changed by a refusal', async () => {
      const vm = await t.createVm();
      expect((await policy(vm.vmId, { everyRun: true }, vm.vmToken)).status).toBe(403);
      expect((await policy(vm.vmId, { everyRun: true }, await t.viewerToken(vm.vmId))).status).toBe(403);
      for (const [body, field] of [
        [{}, 'everyRun'],
        [{ everyRun: 'yes' }, 'everyRun'],
        [{ everyRun: true, segmentSeconds: 0 }, 'segmentSeconds'],
      ] as const) {
        const r = await policy(vm.vmId, body);
        expect(r.status).toBe(400);
        expect(r.body.error.field).toBe(field);
      }
      expect((await list(vm.vmId)).body.policy).toEqual({ everyRun: false });
      expect((await policy('nope', { everyRun: true })).status).toBe(404);
      expect((await policy(vm.vmId, { everyRun: true })).body).toEqual({ everyRun: true, segmentSeconds: 10 });
    });
  });

  describe('malformed requests: 4xx naming the field, nothing changes', () => {
    it('start bodies', async () => {
      const vm = await t.createVm();
      for (const [body, field] of [
        [{ segmentSeconds: 0 }, 'segmentSeconds'],
        [{ segmentSeconds: 1.5 }, 'segmentSeconds'],
        [{ segmentSeconds: '60' }, 'segmentSeconds'],
        [{ codec: 'vp8' }, 'codec'],
      ] as const) {
        const r = await start(vm.vmId, body);
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe('invalid_body');
        // an unknown key is named in the message (zod reports it on the object, not a path)
        expect(r.body.error.field ?? r.body.error.message).toContain(field);
      }
      const notJson = await t.call('POST', `/api/vms/${vm.vmId}/recordings`, {
        raw: '{',
        headers: { 'content-type': 'application/json' },
      });
      expect(notJson.body.error.code).toBe('invalid_json');
      expect((await list(vm.vmId)).body).toEqual({ recordings: [], active: null, policy: { everyRun: false } });
    });

    it('uploads: query, media type, content and size', async () => {
      const vm = await t.createVm();
      const rec = (await start(vm.vmId)).body.recordingId as string;
      for (const [query, field] of [
        ['?durationMs=1', 'startedAt'],
        ['?startedAt=-1&durationMs=1', 'startedAt'],
        ['?startedAt=1.5&durationMs=1', 'startedAt'],
        ['?startedAt=1', 'durationMs'],
        ['?startedAt=1&durationMs=x', 'durationMs'],
      ] as const) {
        const r = await upload(vm.vmId, rec, vm.vmToken, query);
        expect(r.status).toBe(400);
        expect(r.body.error).toMatchObject({ code: 'invalid_query', field });
      }
      const q = '?startedAt=5&durationMs=1';
      const png = await upload(vm.vmId, rec, vm.vmToken, q, webm(100), 'image/png');
      expect([png.status, png.body.error.code]).toEqual([415, 'unsupported_media_type']);
      const notWebm = await upload(vm.vmId, rec, vm.vmToken, q, mp4(100), 'video/webm');
      expect([notWebm.status, notWebm.body.error.code]).toEqual([400, 'invalid_body']);
      const notMp4 = await upload(vm.vmId, rec, vm.vmToken, q, webm(100), 'video/mp4');
      expect(notMp4.status).toBe(400);
      expect((await upload(vm.vmId, 'nope', vm.vmToken, q)).body.error.code).toBe('recording_not_found');
      // A declared length over the limit is refused before a byte is read.
      const tooLarge = await new Promise<number>((resolve, reject) => {
        const req = request(
          `${t.url}/api/vms/${vm.vmId}/recordings/${rec}/segments${q}`,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${vm.vmToken}`,
              'content-type': 'video/webm',
              'content-length': String(200 * 1024 * 1024),
            },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.write(Buffer.from(webm(16)));
      });
      expect(tooLarge).toBe(413);
      expect(await segments(vm.vmId)).toEqual([]);
      expect(readdirSync(dir).includes(vm.vmId) ? readdirSync(join(dir, vm.vmId, rec)) : []).toEqual([]);
      expect((await upload(vm.vmId, rec, vm.vmToken, q, mp4(100), 'video/mp4')).status).toBe(201);
      const [seg] = await segments(vm.vmId);
      expect(seg).toMatchObject({ index: 0, startedAt: 5, durationMs: 1, bytes: 100, mediaType: 'video/mp4' });
    });

    it('segment queries and indexes', async () => {
      const { vmId, recordingId } = await recorded();
      const base = `/api/vms/${vmId}/recordings/${recordingId}/segments`;
      expect((await t.call('GET', `${base}/0?exp=soon&sig=x`, { token: null })).body.error.field).toBe('exp');
      expect((await t.call('GET', `${base}/0?exp=1&sig=short`, { token: null })).body.error.field).toBe('sig');
      expect((await t.call('GET', `${base}/9`)).body.error.code).toBe('segment_not_found');
      expect((await t.call('GET', `${base}/x`)).body.error.code).toBe('segment_not_found');
      expect((await t.call('GET', `/api/vms/${vmId}/recordings/nope/segments/0`)).body.error.code).toBe(
        'recording_not_found',
      );
    });
  });

  describe('segments', () => {
    it('a retried upload (same start) is the same segment, stored once', async () => {
      const { vmId, recordingId, vmToken } = await recorded();
      const again = await upload(vmId, recordingId, vmToken, '?startedAt=1000000&durationMs=10000');
      expect(again.body).toEqual({ index: 0, stored: false });
      expect(await segments(vmId)).toHaveLength(1);
    });

    it('the last segment may arrive after the stop; segments list in start order whatever the upload order', async () => {
      const vm = await t.createVm();
      const rec = (await start(vm.vmId)).body.recordingId as string;
      await upload(vm.vmId, rec, vm.vmToken, '?startedAt=3000&durationMs=1000');
      await stop(vm.vmId, rec);
      // a leftover a restarted helper's agent found in its spool, older than the one uploaded
      expect((await upload(vm.vmId, rec, vm.vmToken, '?startedAt=1000&durationMs=1000')).status).toBe(201);
      const list2 = (await segments(vm.vmId)) as Array<{ startedAt: number; index: number }>;
      expect(list2.map((s) => [s.startedAt, s.index])).toEqual([
        [1000, 1],
        [3000, 0],
      ]);
    });

    it('Range requests: 206 with Content-Range for a range, a suffix and an open end; 416 past the end; HEAD', async () => {
      const vm = await t.createVm();
      const rec = (await start(vm.vmId)).body.recordingId as string;
      const bytes = webm(1000);
      for (let i = 4; i < 1000; i++) bytes[i] = i % 251;
      await upload(vm.vmId, rec, vm.vmToken, '?startedAt=1&durationMs=1', bytes);
      const [seg] = await segments(vm.vmId);
      const get = async (range?: string, method = 'GET') => {
        const res = await fetch(t.url + seg.url, { method, headers: range ? { range } : {} });
        return { res, body: new Uint8Array(await res.arrayBuffer()) };
      };
      const full = await get();
      expect(full.res.status).toBe(200);
      expect(full.res.headers.get('accept-ranges')).toBe('bytes');
      expect(full.body).toEqual(bytes);
      const part = await get('bytes=10-19');
      expect(part.res.status).toBe(206);
      expect(part.res.headers.get('content-range')).toBe('bytes 10-19/1000');
      expect(part.res.headers.get('content-type')).toBe('video/webm');
      expect(part.body).toEqual(bytes.slice(10, 20));
      const suffix = await get('bytes=-5');
      expect(suffix.res.headers.get('content-range')).toBe('bytes 995-999/1000');
      expect(suffix.body).toEqual(bytes.slice(995));
      const open = await get('bytes=990-');
      expect(open.body).toEqual(bytes.slice(990));
      const past = await get('bytes=1000-');
      expect(past.res.status).toBe(416);
      expect(past.res.headers.get('content-range')).toBe('bytes */1000');
      expect(past.res.headers.get('content-type')).toContain('application/json');
      // several ranges: ignored (RFC 9110 §14.2), the whole file
      expect((await get('bytes=0-1,5-6')).res.status).toBe(200);
      const head = await get('bytes=0-99', 'HEAD');
      expect(head.res.status).toBe(206);
      expect(head.res.headers.get('content-length')).toBe('100');
      expect(head.body.length).toBe(0);
    });

    it("retention: storing past VMLIVE_RECORDINGS_MAX_BYTES drops the VM's oldest segments and their files; a stopped recording left empty goes too", async () => {
      const vm = await t.createVm();
      const old = (await start(vm.vmId)).body.recordingId as string;
      await upload(vm.vmId, old, vm.vmToken, '?startedAt=1000&durationMs=10000', webm(400 * KIB));
      await stop(vm.vmId, old);
      const rec = (await start(vm.vmId)).body.recordingId as string;
      await upload(vm.vmId, rec, vm.vmToken, '?startedAt=2000&durationMs=10000', webm(400 * KIB));
      const oldFile = join(dir, vm.vmId, old, '1000.webm');
      expect(existsSync(oldFile)).toBe(true);
      await upload(vm.vmId, rec, vm.vmToken, '?startedAt=3000&durationMs=10000', webm(400 * KIB));
      const after = (await list(vm.vmId)).body;
      expect(after.recordings.map((r: { recordingId: string }) => r.recordingId)).toEqual([rec]);
      expect(after.recordings[0].segments.map((s: { startedAt: number }) => s.startedAt)).toEqual([2000, 3000]);
      expect(after.recordings[0].bytes).toBe(800 * KIB);
      expect(existsSync(oldFile)).toBe(false);
      // one segment larger than the limit is still kept (the newest always is), the rest go
      await upload(vm.vmId, rec, vm.vmToken, '?startedAt=4000&durationMs=10000', webm(1100 * KIB));
      expect((await segments(vm.vmId)).map((s: { startedAt: number }) => s.startedAt)).toEqual([4000]);
    });

    it("deleting the VM deletes its recordings' files", async () => {
      const { vmId } = await recorded();
      expect(existsSync(join(dir, vmId))).toBe(true);
      expect((await t.call('DELETE', `/api/vms/${vmId}`)).status).toBe(204);
      expect(existsSync(join(dir, vmId))).toBe(false);
      expect((await list(vmId)).status).toBe(404);
    });
  });
});
