/**
 * The VM agent's half of recording (protocol recordings.ts): follows the controller's order
 * (delivered with the sessions poll), tells the helper to record or stop, and uploads every
 * segment the helper finished.
 *
 * Nothing finished is lost to a crash: the helper writes segments into the spool
 * (`<spool>/<vmId>/<recordingId>/`), and each one it finished gets a sidecar (`<file>.json`, written then
 * renamed, by the helper before it reports the segment: so even a segment finished while this
 * agent stops is found by the next one); the file and its sidecar are deleted only once the
 * controller stored it. A helper killed mid-segment leaves one file without a sidecar (the
 * segment being written: it may end anywhere, so it is deleted, not uploaded); every finished one
 * still has its sidecar and is uploaded, by this process or, after an agent restart, by the next
 * (the spool is scanned at start). Uploads retry with backoff while the controller is away; a
 * segment the controller refuses for good (its recording or VM gone) is dropped and logged.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, type helperProtocol, type RecordingOrder } from '@vmlive/protocol';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ControllerClient } from '../controller/controller-client.js';
import type { HelperSupervisor } from '../helper-supervisor.js';
import { Backoff, sleep } from '../util/backoff.js';

type SegmentEvent = z.infer<typeof helperProtocol.RecordingSegment>;

/** What a sidecar holds: enough to upload the file without the helper that wrote it. */
const Sidecar = z.object({
  recordingId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  startedAt: z.number().int().min(0),
  durationMs: z.number().int().min(0),
  bytes: z.number().int().min(0),
  mediaType: z.enum(['video/webm', 'video/mp4']),
});
type Sidecar = z.infer<typeof Sidecar>;

/** VMLIVE_RECORDING_SPOOL_DIR's default; each VM agent spools under `<dir>/<vmId>`. */
export const DEFAULT_SPOOL_DIR = join(tmpdir(), 'vmlive-recording-spool');

const SEGMENT_FILE = /^\d+-\d{5}\.(webm|mp4)$/;

export interface RecordingAgentOptions {
  client: ControllerClient;
  supervisor: HelperSupervisor;
  spoolDir: string;
  log: Logger;
  signal: AbortSignal;
}

export class RecordingAgent {
  /** The order from the controller (null: record nothing). */
  private order: RecordingOrder | null = null;
  /** What the current helper was told to record. */
  private helperRecording: string | null = null;
  /** Sidecar paths waiting for upload, oldest first. */
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly log: Logger;
  /** This VM's part of the spool: agents of several VMs on one machine (the sandbox) share a spool dir. */
  private readonly spool: string;

  constructor(private readonly opts: RecordingAgentOptions) {
    this.log = opts.log.child({ module: 'recording' });
    this.spool = join(opts.spoolDir, opts.client.vmId);
    opts.supervisor.on('event', (e) => {
      if (e.type === 'recording-segment') void this.onSegment(e);
      else if (e.type === 'recording-stopped')
        this.log.info({ recordingId: e.recordingId, segments: e.segments }, 'helper stopped recording');
      else if (e.type === 'error' && e.code === 'recording-failed')
        this.log.error({ detail: e.message }, 'recording failed');
    });
    opts.supervisor.on('up', () => void this.onHelperUp());
    opts.supervisor.on('down', () => {
      this.helperRecording = null;
    });
  }

  /** The recording the agent records now ('' none), for the sessions poll's `recording`. */
  get recordingId(): string {
    return this.order?.recordingId ?? '';
  }

  /** Scans the spool for what an earlier agent or helper left, then uploads as segments come. */
  async start(): Promise<void> {
    await mkdir(this.spool, { recursive: true });
    await this.scanSpool(true);
    this.loop = this.uploadLoop();
  }

  async stop(): Promise<void> {
    this.wake?.();
    await this.loop;
  }

  /** The controller's order, from every sessions poll reply. */
  apply(order: RecordingOrder | null | undefined): void {
    const next = order ?? null;
    if (next?.recordingId === this.order?.recordingId) return;
    this.log.info({ from: this.order?.recordingId ?? null, to: next?.recordingId ?? null }, 'recording order');
    this.order = next;
    this.pushToHelper();
  }

  private pushToHelper(): void {
    const want = this.order;
    const { supervisor } = this.opts;
    if (this.helperRecording !== null && this.helperRecording !== want?.recordingId) {
      if (supervisor.send({ type: 'recording-stop', peerId: null, recordingId: this.helperRecording })) {
        this.helperRecording = null;
      }
    }
    if (want && this.helperRecording === null) {
      const sent = supervisor.send({
        type: 'recording-start',
        peerId: null,
        recordingId: want.recordingId,
        directory: join(this.spool, want.recordingId),
        segmentSeconds: want.segmentSeconds,
      });
      // Not sent while the helper restarts: its `up` sends it.
      if (sent) this.helperRecording = want.recordingId;
    }
  }

  private async onHelperUp(): Promise<void> {
    // Before the new helper records: what the dead one was writing has no sidecar and is deleted.
    try {
      await this.scanSpool(true);
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'spool scan failed');
    }
    this.pushToHelper();
  }

  private async onSegment(e: SegmentEvent): Promise<void> {
    const sidecar: Sidecar = {
      recordingId: e.recordingId,
      startedAt: e.startedAt,
      durationMs: e.durationMs,
      bytes: e.bytes,
      mediaType: e.mediaType,
    };
    const path = `${e.path}.json`;
    try {
      // The helper wrote it (recording.py); written again only if it could not.
      if (!existsSync(path)) {
        await writeFile(`${path}.tmp`, JSON.stringify(sidecar));
        await rename(`${path}.tmp`, path);
      }
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err), path: e.path }, 'cannot spool segment');
      return;
    }
    this.enqueue(path);
  }

  private enqueue(sidecarPath: string): void {
    if (this.queued.has(sidecarPath)) return;
    this.queued.add(sidecarPath);
    this.queue.push(sidecarPath);
    this.wake?.();
  }

  /**
   * Queues every spooled segment with a sidecar; with `dropPartial`, deletes segment files without
   * one (what a killed helper was writing: only safe while no helper records).
   */
  private async scanSpool(dropPartial: boolean): Promise<void> {
    const root = this.spool;
    let dirs: string[];
    try {
      dirs = await readdir(root);
    } catch {
      return;
    }
    for (const dir of dirs.sort()) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(dir)) continue;
      let names: string[];
      try {
        names = await readdir(join(root, dir));
      } catch {
        continue;
      }
      const set = new Set(names);
      for (const name of names.sort()) {
        if (!SEGMENT_FILE.test(name)) continue;
        const file = join(root, dir, name);
        if (set.has(`${name}.json`)) this.enqueue(`${file}.json`);
        else if (dropPartial && this.helperRecording === null) {
          this.log.warn({ file }, 'dropping a segment the helper did not finish (it died while writing it)');
          await rm(file, { force: true });
        }
      }
    }
  }

  private async uploadLoop(): Promise<void> {
    const backoff = new Backoff(500, 30_000);
    const { signal } = this.opts;
    while (!signal.aborted) {
      const next = this.queue[0];
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener('abort', done);
            this.wake = undefined;
            resolve();
          };
          this.wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      const outcome = await this.uploadOne(next);
      if (outcome === 'retry') {
        await sleep(backoff.next(), signal);
        continue;
      }
      backoff.reset();
      this.queue.shift();
      this.queued.delete(next);
    }
  }

  private async uploadOne(sidecarPath: string): Promise<'done' | 'retry'> {
    const file = sidecarPath.slice(0, -'.json'.length);
    let meta: Sidecar;
    let data: Buffer;
    try {
      meta = Sidecar.parse(JSON.parse(await readFile(sidecarPath, 'utf8')));
      data = await readFile(file);
    } catch (err) {
      this.log.error(
        { err: err instanceof Error ? err.message : String(err), file },
        'unreadable spooled segment dropped',
      );
      await rm(file, { force: true });
      await rm(sidecarPath, { force: true });
      return 'done';
    }
    try {
      const r = await this.opts.client.uploadSegment(meta.recordingId, meta, data, this.opts.signal);
      this.log.info(
        {
          recordingId: meta.recordingId,
          index: r.index,
          bytes: data.length,
          durationMs: meta.durationMs,
          stored: r.stored,
        },
        'segment uploaded',
      );
    } catch (err) {
      if (this.opts.signal.aborted) return 'retry';
      // Refused for good: the recording or the VM is gone, or the controller says the file is bad.
      if (
        !(err instanceof ApiError) ||
        !err.is('recording_not_found', 'vm_not_found', 'invalid_body', 'body_too_large', 'unsupported_media_type')
      ) {
        this.log.warn(
          { err: err instanceof Error ? err.message : String(err), file },
          'segment upload failed; retrying',
        );
        return 'retry';
      }
      this.log.error({ code: err.code, file }, 'segment refused by the controller; dropped');
    }
    await rm(file, { force: true });
    await rm(sidecarPath, { force: true });
    return 'done';
  }
}
