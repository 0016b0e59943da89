// A hand-written SVG chart for the bench report: per scenario, a bar of requests per second (with the
// bare node:http ceiling marked) and a p50–p99 latency whisker on a log scale. No chart library.

export interface ChartRow {
  name: string;
  rps: number;
  p50: number;
  p99: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceCeiling(v: number): number {
  if (v <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

export function renderChart(rows: ChartRow[], title: string, subtitle: string, baselineRps?: number): string {
  const labelW = 250;
  const panelW = 310;
  const gap = 40;
  const top = 78;
  const rowH = 30;
  const width = labelW + panelW * 2 + gap + 30;
  const height = top + rows.length * rowH + 46;
  const x1 = labelW;
  const x2 = labelW + panelW + gap;

  const maxRps = niceCeiling(Math.max(1, ...rows.map((r) => r.rps), baselineRps ?? 0));
  const rpsX = (v: number) => x1 + (v / maxRps) * panelW;

  const lo = 0.1;
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...rows.map((r) => r.p99))));
  const latX = (ms: number) => x2 + ((Math.log10(Math.max(lo, ms)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelW;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="600" fill="#111">${esc(title)}</text>`,
    `<text x="16" y="42" fill="#555">${esc(subtitle)}</text>`,
    `<text x="${x1}" y="${top - 12}" font-weight="600" fill="#333">requests / s</text>`,
    `<text x="${x2}" y="${top - 12}" font-weight="600" fill="#333">latency, ms (log scale): dot p50, whisker to p99</text>`,
  );
  const bottom = top + rows.length * rowH;
  for (let i = 0; i <= 4; i++) {
    const v = (maxRps / 4) * i;
    const x = rpsX(v);
    out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle" fill="#777">${v >= 1000 ? `${v / 1000}k` : v}</text>`);
  }
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const x = latX(v);
    out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle" fill="#777">${v < 1 ? v.toFixed(1) : v.toFixed(0)}</text>`);
  }
  if (baselineRps) {
    const x = rpsX(baselineRps);
    out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${x}" y="${bottom + 30}" text-anchor="middle" fill="#c0392b">bare node:http</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const mid = y + rowH / 2;
    out.push(`<text x="${x1 - 10}" y="${mid + 4}" text-anchor="end" fill="#222">${esc(r.name)}</text>`);
    out.push(`<rect x="${x1}" y="${y + 6}" width="${Math.max(1, rpsX(r.rps) - x1)}" height="${rowH - 12}" fill="#2e86de" rx="2"/>`);
    out.push(`<text x="${rpsX(r.rps) + 4}" y="${mid + 4}" fill="#333">${Math.round(r.rps).toLocaleString('en-US')}</text>`);
    out.push(`<line x1="${latX(r.p50)}" y1="${mid}" x2="${latX(r.p99)}" y2="${mid}" stroke="#e67e22" stroke-width="2"/>`);
    out.push(`<line x1="${latX(r.p99)}" y1="${mid - 6}" x2="${latX(r.p99)}" y2="${mid + 6}" stroke="#e67e22" stroke-width="2"/>`);
    out.push(`<circle cx="${latX(r.p50)}" cy="${mid}" r="4" fill="#e67e22"/>`);
    out.push(`<text x="${latX(r.p99) + 6}" y="${mid + 4}" fill="#555">${fmt(r.p50)} / ${fmt(r.p99)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}
