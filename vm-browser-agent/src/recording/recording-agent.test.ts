/**
 * The VM agent's recording half against a real controller (in-process) with a scripted helper:
 * the controller's order reaches the helper, finished segments are uploaded and leave the spool,
 * a helper death loses only the segment being written and recording goes on with its replacement,
 * an agent restart uploads what the last one left.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../controller/controller-client.js';
import { HelperSupervisor } from '../helper-supervisor.js';
import { type AgentHarness, ScriptedHelper, startAgentHarness, until } from '../testing/agent-harness.js';
import { RecordingAgent } from './recording-agent.js';

const WEBM = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(2000, 9)]);

let h: AgentHarness<ScriptedHelper> | undefined;
let spool: string;
let store: string;

beforeEach(() => {
  spool = mkdtempSync(join(tmpdir(), 'vmlive-spool-test-'));
  store = mkdtempSync(join(tmpdir(), 'vmlive-recstore-test-'));
});

afterEach(async () => {
  await h?.stop();
  h = undefined;
  rmSync(spool, { recursive: true, force: true });
  rmSync(store, { recursive: true, force: true });
});

const start = () =>
  startAgentHarness({ makeHelper: () => new ScriptedHelper(), recordingSpoolDir: spool, recordingsDir: store });

/** A finished segment as the helper leaves it: the file and its sidecar. */
function finished(dir: string, name: string, recordingId: string, startedAt: number) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, WEBM);
  const meta = { recordingId, startedAt, durationMs: 3000, bytes: WEBM.length, mediaType: 'video/webm' };
  writeFileSync(`${path}.json`, JSON.stringify(meta));
  return { path, meta };
}

const listing = async (harness: AgentHarness<ScriptedHelper>) =>
  (await harness.api('GET', `/api/vms/${harness.vmId}/recordings`)).body;

describe('recording in the VM agent', () => {
  it('starts the helper on the controller’s order, uploads each finished segment and empties the spool, and stops it', async () => {
    h = await start();
    const harness = h;
    const rec = await harness.api('POST', `/api/vms/${harness.vmId}/recordings`, { segmentSeconds: 3 });
    expect(rec.status).toBe(201);
    const recordingId: string = rec.body.recordingId;
    const helper = harness.helpers[0] as ScriptedHelper;
    const [cmd] = await until(() => {
      const c = helper.commands('recording-start');
      return c.length > 0 && c;
    });
    expect(cmd).toMatchObject({ recordingId, segmentSeconds: 3, directory: join(spool, harness.vmId, recordingId) });
    const dir = (cmd as { directory: string }).directory;
    const { path, meta } = finished(dir, '1700000000000-00000.webm', recordingId, 1_700_000_000_000);
    helper.event({ type: 'recording-segment', peerId: null, path, ...meta, mediaType: 'video/webm' });
    const body = await until(async () => {
      const b = await listing(harness);
      return b.recordings[0]?.segments.length === 1 && b;
    });
    expect(body.recordings[0].segments[0]).toMatchObject({
      startedAt: meta.startedAt,
      durationMs: 3000,
      bytes: WEBM.length,
    });
    await until(() => !existsSync(path) && !existsSync(`${path}.json`));
    await harness.api('POST', `/api/vms/${harness.vmId}/recordings/${recordingId}/stop`);
    await until(() => helper.commands('recording-stop').some((c) => c.recordingId === recordingId));
  });

  it('a helper killed mid-segment: the finished segment is uploaded, the unfinished one dropped, and its replacement records on', async () => {
    h = await start();
    const harness = h;
    const recordingId: string = (await harness.api('POST', `/api/vms/${harness.vmId}/recordings`, {})).body.recordingId;
    const first = harness.helpers[0] as ScriptedHelper;
    await until(() => first.commands('recording-start').length > 0);
    const dir = join(spool, harness.vmId, recordingId);
    // Finished, but the agent had not seen the event yet; and the one being written.
    finished(dir, '1700000000000-00000.webm', recordingId, 1_700_000_000_000);
    writeFileSync(join(dir, '1700000000000-00001.webm'), WEBM.subarray(0, 500));
    first.die();
    const second = await until(() => harness.helpers[1]);
    const [again] = await until(() => {
      const c = second.commands('recording-start');
      return c.length > 0 && c;
    });
    expect(again?.recordingId).toBe(recordingId);
    const body = await until(async () => {
      const b = await listing(harness);
      return b.recordings[0]?.segments.length === 1 && b;
    });
    expect(body.recordings[0].segments[0].startedAt).toBe(1_700_000_000_000);
    await until(() => readdirSync(dir).length === 0);
  });

  it('an agent that starts uploads the segments an earlier one left in the spool', async () => {
    h = await start();
    const harness = h;
    const recordingId: string = (await harness.api('POST', `/api/vms/${harness.vmId}/recordings`, {})).body.recordingId;
    await harness.api('POST', `/api/vms/${harness.vmId}/recordings/${recordingId}/stop`);
    // The agent goes; a leftover stays in its spool; the next agent of this VM starts on it.
    await harness.server.stop();
    finished(join(spool, harness.vmId, recordingId), '1700000005000-00000.webm', recordingId, 1_700_000_005_000);
    const log = pino({ level: 'silent' });
    const abort = new AbortController();
    const next = new RecordingAgent({
      client: new ControllerClient({ baseUrl: harness.controller.url, vmId: harness.vmId, token: harness.vmToken }),
      supervisor: new HelperSupervisor(() => new ScriptedHelper(), log),
      spoolDir: spool,
      log,
      signal: abort.signal,
    });
    await next.start();
    const body = await until(async () => {
      const b = await listing(harness);
      return b.recordings[0]?.segments.length === 1 && b;
    });
    expect(body.recordings[0].segments[0].startedAt).toBe(1_700_000_005_000);
    abort.abort();
    await next.stop();
  });
});
