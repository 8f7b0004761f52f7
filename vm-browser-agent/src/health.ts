/**
 * The VM agent's health report, sent with each heartbeat (protocol HealthReport):
 * what the helper's stats probe says, plus what only the agent knows — restarts,
 * the latest helper error or death, how often it was asked for a snapshot, and its own memory.
 */
import { type AgentProcess, type HealthReport, type HelperEvent, LIMITS } from '@vmlive/protocol';

type HelperStats = Extract<HelperEvent, { type: 'stats' }>;

/** The agent's own memory now; the tracker reads it through this so a test can fix the numbers. */
export type MemoryReader = () => Pick<NodeJS.MemoryUsage, 'rss' | 'heapUsed' | 'heapTotal' | 'external'>;

export class HealthTracker {
  constructor(private readonly memory: MemoryReader = () => process.memoryUsage()) {}

  private lastError: HealthReport['lastError'] = null;
  private snapshotsRequested = 0;

  /** A helper `error` event, or the helper's death (code `helper-died`). */
  noteError(code: string, message: string, at = Date.now()): void {
    this.lastError = { at, code: code.slice(0, 64), message: message.slice(0, LIMITS.healthErrorChars) };
  }

  noteSnapshotRequest(): void {
    this.snapshotsRequested++;
  }

  /** `stats` is the helper's answer to the probe; null when it is down ('down') or did not answer ('unresponsive'). */
  report(
    helper: HealthReport['helper'],
    stats: HelperStats | null,
    restarts: number,
    peers: ReadonlyMap<string, unknown>,
  ): HealthReport {
    const sessions = stats
      ? Object.entries(stats.peers)
          .filter(([id]) => peers.has(id))
          .slice(0, LIMITS.healthPeers)
          .map(([sessionId, p]) => ({
            sessionId,
            connectionState: p.connectionState.slice(0, 32),
            bytesSent: p.bytesSent,
            // Counts only (the controller's audit trail records their increase per heartbeat).
            input: p.input,
          }))
      : [];
    return {
      helper,
      // The helper measures fps and bitrate over the frames it actually encoded (0 while idle).
      fps: stats ? stats.encoder.fps : null,
      bitrateKbps: stats ? stats.encoder.bitrateKbps : null,
      cpuPercent: stats ? stats.process.cpuPercent : null,
      rssBytes: stats ? stats.process.rssBytes : null,
      captureToSendMs: stats ? stats.encoder.captureToSendMs : null,
      restarts,
      peers: peers.size,
      lastError: this.lastError,
      snapshotsRequested: this.snapshotsRequested,
      sessions,
      agent: this.agentProcess(),
    };
  }

  private agentProcess(): AgentProcess {
    const m = this.memory();
    return {
      rssBytes: Math.round(m.rss),
      heapUsedBytes: Math.round(m.heapUsed),
      heapTotalBytes: Math.round(m.heapTotal),
      externalBytes: Math.round(m.external),
    };
  }
}
