// A small inline SVG line chart of waiting and active over the last few minutes, drawn from the
// samples the page collected while open (the server keeps no history).
import { useI18n } from '../i18n';

export interface Sample {
  at: number;
  waiting: number;
  active: number;
}

const width = 320;
const height = 120;
const pad = { left: 30, right: 6, top: 8, bottom: 18 };

export function QueueChart({ samples, windowMs }: { samples: Sample[]; windowMs: number }) {
  const { t } = useI18n();
  const last = samples[samples.length - 1];
  const end = last?.at ?? Date.now();
  const start = end - windowMs;
  const top = Math.max(1, ...samples.map((s) => Math.max(s.waiting, s.active)));
  const x = (at: number) => pad.left + ((at - start) / windowMs) * (width - pad.left - pad.right);
  const y = (value: number) => pad.top + (1 - value / top) * (height - pad.top - pad.bottom);
  const line = (pick: (s: Sample) => number) => samples.map((s) => `${x(s.at).toFixed(1)},${y(pick(s)).toFixed(1)}`).join(' ');

  return (
    <figure class="chart">
      <figcaption>
        {t.chartTitle}
        <span class="chart-legend" aria-hidden="true">
          <span class="key waiting" /> {t.waiting} <span class="key active" /> {t.active}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${t.chartTitle}. ${last ? t.chartSummary(last.waiting, last.active) : ''}`}>
        <line class="axis" x1={pad.left} y1={height - pad.bottom} x2={width - pad.right} y2={height - pad.bottom} />
        <line class="grid" x1={pad.left} y1={pad.top} x2={width - pad.right} y2={pad.top} />
        <text class="tick" x={pad.left - 4} y={pad.top + 4} text-anchor="end">
          {top}
        </text>
        <text class="tick" x={pad.left - 4} y={height - pad.bottom + 4} text-anchor="end">
          0
        </text>
        <text class="tick" x={pad.left} y={height - 4}>
          −5 min
        </text>
        <text class="tick" x={width - pad.right} y={height - 4} text-anchor="end">
          0
        </text>
        {samples.length > 0 && <polyline class="series waiting" points={line((s) => s.waiting)} />}
        {samples.length > 0 && <polyline class="series active" points={line((s) => s.active)} />}
      </svg>
    </figure>
  );
}
