/**
 * A VM's JSON document kept in Redis with a version (the run, redis-run.ts; the recordings,
 * redis.ts): read with the `getDoc` script, changed by a pure function, written back by a
 * compare-and-set script that refuses when another controller wrote meanwhile; then it is read
 * and applied again. This process's writes to one VM's document go one after another
 * (SerialWrites), so only writers on other controllers can race, and rarely.
 */

/** compareAndSet gives up after this many lost races. */
export const CAS_ATTEMPTS = 20;

export interface Versioned<D> {
  version: string;
  doc: D;
}

/** Which document `getDoc` reads: its hash is `P <kind>:<vmId>` (v = version, doc = JSON). */
export type DocKind = 'r' | 'rec';

/**
 * The `getDoc` reply ([1, version, doc JSON or ''], or [0] when there is no such VM) as a
 * document, validated by `parse` where it leaves the shared store (another controller version
 * may have written it); '' is a VM that never had one (`empty`).
 */
export function versionedDoc<D>(reply: unknown, parse: (json: unknown) => D, empty: () => D): Versioned<D> | undefined {
  if (!Array.isArray(reply) || reply[0] !== 1) return undefined;
  const version = String(reply[1] ?? '0');
  const raw = String(reply[2] ?? '');
  return { version, doc: raw === '' ? empty() : parse(JSON.parse(raw)) };
}

/** Runs the writes to one key one after another, in the order they were asked for. */
export class SerialWrites {
  private readonly queues = new Map<string, Promise<unknown>>();

  run<T>(key: string, write: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(key) ?? Promise.resolve()).then(write);
    const tail = next.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return next;
  }

  /** keys with a write queued or running (tests: nothing is kept once they are done) */
  get pending(): number {
    return this.queues.size;
  }
}

/**
 * Read, apply `update`, write with `write` (the script's reply: 1 written, 0 the version moved,
 * -1 no such VM) until written; undefined when the VM is gone. An update that returns the same
 * document writes nothing.
 */
export async function compareAndSet<D, U extends { doc: D }>(
  what: string,
  vmId: string,
  read: () => Promise<Versioned<D> | undefined>,
  update: (current: D) => U,
  write: (version: string, u: U) => Promise<number>,
): Promise<U | undefined> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const cur = await read();
    if (!cur) return undefined;
    const u = update(cur.doc);
    if (u.doc === cur.doc) return u;
    const written = await write(cur.version, u);
    if (written === 1) return u;
    if (written === -1) return undefined;
  }
  throw new Error(`${what}: lost ${CAS_ATTEMPTS} races on VM ${vmId}`);
}
