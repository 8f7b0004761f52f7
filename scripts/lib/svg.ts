/** A small hand-written SVG line chart: stacked panels sharing one time axis. */

export interface Series {
  label: string;
  colour: string;
  points: [number, number][];
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
  /** horizontal reference line (e.g. the 28 fps criterion) */
  threshold?: number;
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function lineChart(title: string, panels: Panel[], width = 960, panelHeight = 200): string {
  const left = 56;
  const right = 16;
  const top = 36;
  const gap = 44;
  const height = top + panels.length * (panelHeight + gap);
  const allX = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt[0])));
  const xMax = Math.max(1, ...allX);
  const plotW = width - left - right;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const y0 = top + i * (panelHeight + gap) + 16;
    const ys = panel.series.flatMap((s) => s.points.map((pt) => pt[1])).filter(Number.isFinite);
    const yMax = Math.max(1, panel.threshold ?? 0, ...ys) * 1.1;
    const px = (x: number) => left + (x / xMax) * plotW;
    const py = (y: number) => y0 + panelHeight - (Math.min(y, yMax) / yMax) * panelHeight;
    out.push(`<text x="${left}" y="${y0 - 4}" font-weight="bold">${esc(panel.title)} (${esc(panel.unit)})</text>`);
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${panelHeight}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (yMax / 4) * k;
      out.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>`,
      );
    }
    for (let k = 0; k <= 6; k++) {
      const x = (xMax / 6) * k;
      out.push(
        `<text x="${px(x)}" y="${y0 + panelHeight + 14}" text-anchor="${k === 6 ? 'end' : 'middle'}">${x.toFixed(0)} s</text>`,
      );
    }
    if (panel.threshold !== undefined) {
      out.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${py(panel.threshold)}" y2="${py(panel.threshold)}" stroke="#c00" stroke-dasharray="4 3"/>`,
      );
    }
    panel.series.forEach((s, j) => {
      const pts = s.points
        .filter((p) => Number.isFinite(p[1]))
        .map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`)
        .join(' ');
      out.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="1.5" points="${pts}"/>`);
      out.push(
        `<text x="${left + plotW - 8}" y="${y0 + 14 + j * 14}" text-anchor="end" fill="${s.colour}">${esc(s.label)}</text>`,
      );
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
