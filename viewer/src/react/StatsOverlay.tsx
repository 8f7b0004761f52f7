import type { StreamStats } from '../connection/streamStats.js';

const fmt = (value: number | null, digits: number, unit: string) =>
  value === null ? '—' : `${value.toFixed(digits)}${unit}`;

export function StatsOverlay({ stats }: { stats: StreamStats | null }) {
  const rows: Array<[string, string]> = stats
    ? [
        ['Resolution', stats.width && stats.height ? `${stats.width}×${stats.height}` : '—'],
        ['Codec', stats.codec ?? '—'],
        ['Frame rate', fmt(stats.fps, 1, ' fps')],
        ['Bitrate', fmt(stats.bitrateKbps, 0, ' kbit/s')],
        [
          'Glass to glass',
          stats.glassToGlass
            ? `${stats.glassToGlass.p50Ms.toFixed(0)} / ${stats.glassToGlass.p95Ms.toFixed(0)} ms (p50 / p95)`
            : '—',
        ],
        ['Round trip', fmt(stats.rttMs, 0, ' ms')],
        ['Packet loss', `${fmt(stats.lossPercent, 2, ' %')} (${stats.packetsLost} total)`],
        ['Jitter buffer', fmt(stats.jitterBufferMs, 1, ' ms')],
        ['Decode time', fmt(stats.decodeMs, 1, ' ms')],
        ['Frames decoded', String(stats.framesDecoded)],
        ['Freezes', `${stats.freezeCount} (${stats.freezeSeconds.toFixed(1)} s)`],
      ]
    : [];
  return (
    <section className="vm-stats" aria-label="Stream statistics">
      {stats ? (
        <dl>
          {rows.map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p>No stream statistics yet.</p>
      )}
    </section>
  );
}
