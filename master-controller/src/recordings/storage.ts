/**
 * Where segment files live. The interface is what an S3-compatible bucket offers too (PUT of a
 * whole object, HEAD for its size, ranged GET, DELETE), so one can be added beside the directory
 * implementation without touching the routes. Keys are `<vmId>/<recordingId>/<startedAt>.<ext>`,
 * made only from validated ids and integers (never from a client's text).
 *
 * With several controllers (VMLIVE_STORE=redis://…) every controller must see the same files:
 * VMLIVE_RECORDINGS_DIR on a shared filesystem (or an S3-compatible implementation).
 */
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';

export interface RecordingStorage {
  /** Stores the whole object (replacing one with the same key). */
  put(key: string, data: Buffer): Promise<void>;
  /** Its size in bytes; undefined when there is none. */
  size(key: string): Promise<number | undefined>;
  /** Bytes `start`..`end` (inclusive), as a stream. */
  read(key: string, start: number, end: number): Readable;
  /** Deletes these objects; missing ones are ignored. */
  delete(keys: readonly string[]): Promise<void>;
  /** Deletes every object whose key starts with `<prefix>/` (a VM's recordings). */
  deletePrefix(prefix: string): Promise<void>;
}

const KEY = /^[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_.-]{1,80}){0,2}$/;

export class DirectoryStorage implements RecordingStorage {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The file of a key; a key that could leave the root (it never should: see KEY) throws. */
  private path(key: string): string {
    if (!KEY.test(key) || key.includes('..')) throw new Error(`bad storage key ${JSON.stringify(key)}`);
    const p = join(this.root, key);
    if (!p.startsWith(this.root + sep)) throw new Error(`bad storage key ${JSON.stringify(key)}`);
    return p;
  }

  async put(key: string, data: Buffer): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    // Written beside and renamed: a reader (or a crash) never sees half a file.
    const tmp = `${p}.${process.pid}.${Date.now()}.part`;
    await writeFile(tmp, data);
    await rename(tmp, p);
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? s.size : undefined;
    } catch {
      return undefined;
    }
  }

  read(key: string, start: number, end: number): Readable {
    return createReadStream(this.path(key), { start, end });
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => unlink(this.path(k)).catch(() => undefined)));
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.path(prefix), { recursive: true, force: true });
  }
}
