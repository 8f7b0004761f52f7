import { describe, expect, it } from 'vitest';
import { CAS_ATTEMPTS, compareAndSet, SerialWrites, type Versioned, versionedDoc } from './redis-doc.js';

interface Doc {
  n: number;
}
const parse = (json: unknown): Doc => {
  const n = (json as { n?: unknown }).n;
  if (typeof n !== 'number') throw new Error('n: expected a number');
  return { n };
};

describe('versionedDoc', () => {
  it('reads the version and the document, a VM without one as empty, and no VM as undefined', () => {
    expect(versionedDoc([1, '7', '{"n":3}'], parse, () => ({ n: 0 }))).toEqual({ version: '7', doc: { n: 3 } });
    expect(versionedDoc([1, '0', ''], parse, () => ({ n: 0 }))).toEqual({ version: '0', doc: { n: 0 } });
    expect(versionedDoc([0], parse, () => ({ n: 0 }))).toBeUndefined();
  });

  it('refuses a document another writer left in a shape this version does not know', () => {
    expect(() => versionedDoc([1, '2', '{"n":"x"}'], parse, () => ({ n: 0 }))).toThrow('n: expected a number');
  });
});

describe('compareAndSet', () => {
  /** A store whose version another controller moves `races` times before our write lands. */
  const store = (races: number) => {
    let cur: Versioned<Doc> = { version: '1', doc: { n: 1 } };
    let writes = 0;
    return {
      read: async () => cur,
      write: async (version: string, u: { doc: Doc }) => {
        writes++;
        if (races > 0) {
          races--;
          cur = { version: String(Number(cur.version) + 1), doc: { n: cur.doc.n + 10 } };
          return 0;
        }
        if (version !== cur.version) return 0;
        cur = { version: String(Number(version) + 1), doc: u.doc };
        return 1;
      },
      get doc() {
        return cur.doc;
      },
      get writes() {
        return writes;
      },
    };
  };

  it('applies the update again on what the other writer left after a lost race', async () => {
    const s = store(2);
    const u = await compareAndSet('t', 'vm', s.read, (d) => ({ doc: { n: d.n + 1 } }), s.write);
    expect(u?.doc).toEqual({ n: 22 }); // 1, +10 twice by the other writer, then +1
    expect(s.doc).toEqual({ n: 22 });
    expect(s.writes).toBe(3);
  });

  it('writes nothing when the update keeps the document', async () => {
    const s = store(0);
    const u = await compareAndSet('t', 'vm', s.read, (d) => ({ doc: d }), s.write);
    expect(u?.doc).toEqual({ n: 1 });
    expect(s.writes).toBe(0);
  });

  it('is undefined for a VM that is gone, and gives up after CAS_ATTEMPTS lost races', async () => {
    expect(
      await compareAndSet(
        't',
        'vm',
        async () => undefined,
        (d: Doc) => ({ doc: d }),
        async () => 1,
      ),
    ).toBe(undefined);
    const gone = store(0);
    expect(
      await compareAndSet(
        't',
        'vm',
        gone.read,
        (d) => ({ doc: { n: d.n + 1 } }),
        async () => -1,
      ),
    ).toBe(undefined);
    const busy = store(CAS_ATTEMPTS);
    await expect(compareAndSet('t', 'vm', busy.read, (d) => ({ doc: { n: d.n + 1 } }), busy.write)).rejects.toThrow(
      `t: lost ${CAS_ATTEMPTS} races on VM vm`,
    );
  });
});

describe('SerialWrites', () => {
  it('runs one key’s writes in order, other keys alongside, and keeps nothing once done', async () => {
    const writes = new SerialWrites();
    const order: string[] = [];
    const step = (name: string, ms: number) => () =>
      new Promise<string>((resolve) =>
        setTimeout(() => {
          order.push(name);
          resolve(name);
        }, ms),
      );
    const all = Promise.all([
      writes.run('a', step('a1', 30)),
      writes.run('a', step('a2', 1)),
      writes.run('b', step('b1', 10)),
    ]);
    expect(writes.pending).toBe(2);
    expect(await all).toEqual(['a1', 'a2', 'b1']);
    expect(order).toEqual(['b1', 'a1', 'a2']);
    await new Promise((r) => setTimeout(r, 0));
    expect(writes.pending).toBe(0);
  });

  it('goes on after a write that failed', async () => {
    const writes = new SerialWrites();
    const failed = writes.run('a', async () => {
      throw new Error('boom');
    });
    const next = writes.run('a', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ok');
  });
});
