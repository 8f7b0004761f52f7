/**
 * The Redis store's run control (store/run-doc.ts): one JSON document per VM
 * under `P r:<vmId>` (hash: v = version, doc) and the steps' thumbnails under
 * `P r:<vmId>:th` (hash: step index → JPEG). A change reads the document with
 * its version, applies the pure function of run/timeline.ts and writes back
 * with `casRun`, which refuses if another controller wrote meanwhile (then it
 * re-reads and re-applies), and publishes the wake-ups from inside the script.
 * Run changes come at the automation's pace (a few per second at most), so
 * rewriting the bounded document (≤ 200 steps) is cheap against the round trips.
 */
import { emptyRun, RunDoc, type RunUpdate } from './run-doc.js';
import { topics } from './types.js';

type RunScript = (name: 'getRun' | 'casRun', ...args: Array<string | number | Buffer>) => Promise<unknown>;
type Hget = (key: string, field: string) => Promise<Buffer | null>;

/** updateRun gives up after this many lost races (only writers on other controllers can race: see `queues`). */
const CAS_ATTEMPTS = 20;

export class RedisRuns {
  /**
   * This process's writes to one VM's run, one after another: concurrent writers here (viewers
   * queueing overrides while the automation reports) would otherwise mostly lose the CAS to each
   * other and retry; only writers on other controllers still race, and rarely.
   */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly prefix: string,
    private readonly run: RunScript,
    private readonly hgetBuffer: Hget,
  ) {}

  private async read(vmId: string): Promise<{ version: string; doc: RunDoc } | undefined> {
    const r = await this.run('getRun', vmId);
    if (!Array.isArray(r) || r[0] !== 1) return undefined;
    const version = String(r[1]);
    const raw = String(r[2] ?? '');
    if (raw === '') return { version, doc: emptyRun() };
    // Validated like any input: a document another controller version wrote must still fit.
    return { version, doc: RunDoc.parse(JSON.parse(raw)) };
  }

  async get(vmId: string): Promise<RunDoc | undefined> {
    return (await this.read(vmId))?.doc;
  }

  update<T>(vmId: string, update: (current: RunDoc) => RunUpdate<T>): Promise<T | undefined> {
    const prev = this.queues.get(vmId) ?? Promise.resolve();
    const next = prev.then(() => this.cas(vmId, update));
    const tail = next.catch(() => undefined);
    this.queues.set(vmId, tail);
    void tail.then(() => {
      if (this.queues.get(vmId) === tail) this.queues.delete(vmId);
    });
    return next;
  }

  private async cas<T>(vmId: string, update: (current: RunDoc) => RunUpdate<T>): Promise<T | undefined> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.read(vmId);
      if (!cur) return undefined;
      const u = update(cur.doc);
      if (u.doc === cur.doc) return u.result;
      const drop = u.dropThumbnails === 'all' ? '*' : (u.dropThumbnails ?? []).join(',');
      const written = await this.run(
        'casRun',
        vmId,
        cur.version,
        JSON.stringify(u.doc),
        u.thumbnail ? String(u.thumbnail.index) : '',
        u.thumbnail ? u.thumbnail.jpeg : '',
        drop,
        u.wake.map((t) => topics.run(vmId, t)).join(','),
      );
      if (written === 1) return u.result;
      if (written === -1) return undefined;
    }
    throw new Error(`updateRun: lost ${CAS_ATTEMPTS} races on VM ${vmId}`);
  }

  async thumbnail(vmId: string, index: number): Promise<Buffer | undefined> {
    return (await this.hgetBuffer(`${this.prefix}r:${vmId}:th`, String(index))) ?? undefined;
  }
}
