/**
 * The screenshot fallback: fetches GET /api/vms/:vmId/snapshot (a JPEG, with
 * the bearer header — so no <img src> with a token in the URL) every
 * interval and hands out blob URLs, revoking the previous one.
 */
import { type ApiClient, ApiError, routes } from '@vmlive/protocol';

export interface SnapshotUpdate {
  /** blob: URL of the latest frame, or null if none yet */
  url: string | null;
  /** ms since epoch of the latest frame */
  at: number | null;
  /** why the last fetch gave no frame, e.g. "snapshot unavailable" */
  error: string | null;
}

export interface SnapshotPollerOptions {
  api: ApiClient;
  vmId: string;
  intervalMs?: number;
  createObjectURL?: (blob: Blob) => string;
  revokeObjectURL?: (url: string) => void;
  now?: () => number;
}

export class SnapshotPoller {
  private readonly api: ApiClient;
  private readonly vm: { vmId: string };
  private readonly intervalMs: number;
  private readonly createUrl: (blob: Blob) => string;
  private readonly revokeUrl: (url: string) => void;
  private readonly now: () => number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private abort: AbortController | null = null;
  private current: SnapshotUpdate = { url: null, at: null, error: null };
  private running = false;

  constructor(
    options: SnapshotPollerOptions,
    private readonly onUpdate: (update: SnapshotUpdate) => void,
  ) {
    this.api = options.api;
    this.vm = { vmId: options.vmId };
    this.intervalMs = options.intervalMs ?? 1000;
    this.createUrl = options.createObjectURL ?? ((blob) => URL.createObjectURL(blob));
    this.revokeUrl = options.revokeObjectURL ?? ((url) => URL.revokeObjectURL(url));
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.abort = null;
    if (this.current.url) this.revokeUrl(this.current.url);
    this.current = { url: null, at: null, error: null };
  }

  /** One fetch; the next is scheduled only after this one finishes, so slow fetches never pile up. */
  private async tick(): Promise<void> {
    if (!this.running) return;
    this.abort = new AbortController();
    try {
      const { blob } = await this.api.call(routes.getSnapshot, { params: this.vm, signal: this.abort.signal });
      if (!this.running) return;
      const url = this.createUrl(blob);
      if (this.current.url) this.revokeUrl(this.current.url);
      this.current = { url, at: this.now(), error: null };
    } catch (err) {
      if (!this.running) return;
      const error =
        err instanceof ApiError && err.is('snapshot_unavailable')
          ? 'Snapshot unavailable (VM not capturing)'
          : err instanceof Error
            ? err.message
            : String(err);
      this.current = { ...this.current, error };
    }
    this.onUpdate(this.current);
    if (this.running) this.timer = setTimeout(() => void this.tick(), this.intervalMs);
  }
}
