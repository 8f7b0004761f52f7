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
import { compareAndSet, SerialWrites, versionedDoc } from './redis-doc.js';
import { emptyRun, RunDoc, type RunUpdate } from './run-doc.js';
import { topics } from './types.js';

type RunScript = (name: 'getDoc' | 'casRun', ...args: Array<string | number | Buffer>) => Promise<unknown>;
type Hget = (key: string, field: string) => Promise<Buffer | null>;

export class RedisRuns {
  /**
   * This process's writes to one VM's run, one after another: concurrent writers here (viewers
   * queueing overrides while the automation reports) would otherwise mostly lose the CAS to each
   * other and retry; only writers on other controllers still race, and rarely.
   */
  private readonly writes = new SerialWrites();

  constructor(
    private readonly prefix: string,
    private readonly run: RunScript,
    private readonly hgetBuffer: Hget,
  ) {}

  private async read(vmId: string) {
    // Validated like any input: a document another controller version wrote must still fit.
    return versionedDoc(await this.run('getDoc', vmId, 'r'), (json) => RunDoc.parse(json), emptyRun);
  }

  async get(vmId: string): Promise<RunDoc | undefined> {
    return (await this.read(vmId))?.doc;
  }

  async update<T>(vmId: string, update: (current: RunDoc) => RunUpdate<T>): Promise<T | undefined> {
    const u = await this.writes.run(vmId, () =>
      compareAndSet(
        'updateRun',
        vmId,
        () => this.read(vmId),
        update,
        async (version, u) =>
          Number(
            await this.run(
              'casRun',
              vmId,
              version,
              JSON.stringify(u.doc),
              u.thumbnail ? String(u.thumbnail.index) : '',
              u.thumbnail ? u.thumbnail.jpeg : '',
              u.dropThumbnails === 'all' ? '*' : (u.dropThumbnails ?? []).join(','),
              u.wake.map((t) => topics.run(vmId, t)).join(','),
            ),
          ),
      ),
    );
    return u?.result;
  }

  async thumbnail(vmId: string, index: number): Promise<Buffer | undefined> {
    return (await this.hgetBuffer(`${this.prefix}r:${vmId}:th`, String(index))) ?? undefined;
  }
}
