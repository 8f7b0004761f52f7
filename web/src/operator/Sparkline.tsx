/** A tiny line chart of one health series (SVG, no library), with its latest value as text. */
export interface SparklineProps {
  label: string;
  values: ReadonlyArray<number | null>;
  format(v: number): string;
}

const W = 160;
const H = 36;

export function Sparkline({ label, values, format }: SparklineProps) {
  const known = values.filter((v): v is number => v !== null);
  const last = known.at(-1);
  const max = Math.max(1e-9, ...known);
  const min = Math.min(0, ...known);
  const step = values.length > 1 ? W / (values.length - 1) : W;
  // Gaps (helper down) break the line instead of drawing a misleading zero.
  const segments: string[] = [];
  let current: string[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length) segments.push(current.join(' '));
      current = [];
      return;
    }
    const y = H - 2 - ((v - min) / (max - min || 1)) * (H - 4);
    current.push(`${(i * step).toFixed(1)},${y.toFixed(1)}`);
  });
  if (current.length) segments.push(current.join(' '));
  const summary =
    last === undefined
      ? `${label}: no data`
      : `${label}: ${format(last)} now, ${format(Math.min(...known))}–${format(Math.max(...known))} over ${values.length} samples`;
  return (
    <figure className="sparkline">
      <figcaption>
        {label} <strong>{last === undefined ? '–' : format(last)}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={summary}>
        {segments.map((points) => (
          <polyline key={points} points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
        ))}
      </svg>
    </figure>
  );
}
