// A line's charts on the operator page: waiting and active, admissions per minute and the waits the
// admitted actually had (median, 90th and 99th percentile), from the server's history of the line,
// which every instance adds to and which outlives any one process. The window is the operator's choice.
import { useEffect, useState } from 'preact/hooks';
import { adminApi, ApiError, type LineHistory, type LineHistoryPoint } from '../api';
import { type Dict, errorText, formatNumber, type Lang, useI18n } from '../i18n';

const WINDOWS = [15, 60, 6 * 60, 24 * 60];
const REFRESH_MIN_MS = 2_000;

const width = 320;
const height = 130;
const pad = { left: 34, right: 6, top: 8, bottom: 18 };

interface Series {
  name: string;
  class: string;
  value: (p: LineHistoryPoint) => number | null;
}

/** Seconds as an operator reads a wait: "45 s", "12 min", "2 h 5 min". */
export function formatSeconds(t: Dict, seconds: number): string {
  if (seconds < 90) return t.secondsShort(Math.round(seconds));
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return t.minutesShort(minutes);
  return t.hoursMinutesShort(Math.floor(minutes / 60), minutes % 60);
}

function windowLabel(t: Dict, minutes: number): string {
  return minutes < 60 ? t.minutesShort(minutes) : t.hoursShort(minutes / 60);
}

/**
 * One chart. A series is drawn as runs of points: a step without a point (no instance ran) or without a
 * value (no admission to take a percentile of) breaks the line rather than drawing a number nobody saw.
 */
function Chart({
  title,
  summary,
  history,
  series,
  format,
  testId,
}: {
  title: string;
  summary: string;
  history: LineHistory;
  series: Series[];
  format: (value: number) => string;
  testId: string;
}) {
  const { t } = useI18n();
  const from = Date.parse(history.from);
  const to = Date.parse(history.to);
  const span = Math.max(1, to - from);
  const stepMs = history.stepSeconds * 1000;
  const values = series.map((s) => history.points.map((p) => s.value(p)));
  const top = Math.max(1, ...values.flat().map((v) => v ?? 0));
  const x = (at: number) => pad.left + ((at - from) / span) * (width - pad.left - pad.right);
  const y = (value: number) => pad.top + (1 - value / top) * (height - pad.top - pad.bottom);

  const runsOf = (column: (number | null)[]) => {
    const runs: [number, number][][] = [];
    let run: [number, number][] = [];
    let lastAt = Number.NEGATIVE_INFINITY;
    history.points.forEach((p, i) => {
      const at = Date.parse(p.at);
      const value = column[i];
      if (value === null || value === undefined || at - lastAt > stepMs * 1.5) {
        if (run.length > 0) runs.push(run);
        run = [];
      }
      if (value !== null && value !== undefined) run.push([x(at + stepMs / 2), y(value)]);
      lastAt = at;
    });
    if (run.length > 0) runs.push(run);
    return runs;
  };

  return (
    <figure class="chart" data-testid={testId}>
      <figcaption>
        {title}
        <span class="chart-legend" aria-hidden="true">
          {series.map((s) => (
            <span key={s.class}>
              <span class={`key ${s.class}`} /> {s.name}
            </span>
          ))}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title}. ${summary}`}>
        <line class="axis" x1={pad.left} y1={height - pad.bottom} x2={width - pad.right} y2={height - pad.bottom} />
        <line class="grid" x1={pad.left} y1={pad.top} x2={width - pad.right} y2={pad.top} />
        <text class="tick" x={pad.left - 4} y={pad.top + 4} text-anchor="end">
          {format(top)}
        </text>
        <text class="tick" x={pad.left - 4} y={height - pad.bottom + 4} text-anchor="end">
          0
        </text>
        <text class="tick" x={pad.left} y={height - 4}>
          −{windowLabel(t, Math.round(span / 60_000))}
        </text>
        <text class="tick" x={width - pad.right} y={height - 4} text-anchor="end">
          {t.now}
        </text>
        {series.map((s, i) =>
          runsOf(values[i]!).map((run, j) =>
            run.length === 1 ? (
              <circle key={`${s.class}-${j}`} class={`point ${s.class}`} cx={run[0]![0]} cy={run[0]![1]} r="2" />
            ) : (
              <polyline key={`${s.class}-${j}`} class={`series ${s.class}`} points={run.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')} />
            ),
          ),
        )}
      </svg>
    </figure>
  );
}

function lastWith<T>(points: LineHistoryPoint[], pick: (p: LineHistoryPoint) => T | null): T | null {
  for (let i = points.length - 1; i >= 0; i--) {
    const value = pick(points[i]!);
    if (value !== null) return value;
  }
  return null;
}

function charts(lang: Lang, t: Dict, history: LineHistory, prefix: string) {
  const n = (value: number) => formatNumber(lang, Math.round(value));
  const last = history.points.at(-1);
  const lastWait = lastWith(history.points, (p) => p.waitSeconds);
  const lastRate = lastWith(history.points, (p) => (p.admitted > 0 ? p.admittedPerMinute : null));
  return (
    <div class="charts">
      <Chart
        testId={`${prefix}-waiting`}
        title={t.chartWaitingTitle}
        summary={last ? t.chartSummary(last.waiting, last.active) : t.chartNoData}
        history={history}
        format={n}
        series={[
          { name: t.waiting, class: 'waiting', value: (p) => p.waiting },
          { name: t.active, class: 'active', value: (p) => p.active },
        ]}
      />
      <Chart
        testId={`${prefix}-admitted`}
        title={t.admittedPerMinute}
        summary={lastRate === null ? t.chartNoAdmissions : t.chartRateSummary(n(lastRate))}
        history={history}
        format={n}
        series={[{ name: t.admittedPerMinute, class: 'rate', value: (p) => p.admittedPerMinute }]}
      />
      <Chart
        testId={`${prefix}-wait`}
        title={t.chartWaitTitle}
        summary={
          lastWait === null
            ? t.chartNoAdmissions
            : t.chartWaitSummary(formatSeconds(t, lastWait.p50), formatSeconds(t, lastWait.p90), formatSeconds(t, lastWait.p99))
        }
        history={history}
        format={(seconds) => formatSeconds(t, seconds)}
        series={[
          { name: 'p50', class: 'p50', value: (p) => p.waitSeconds?.p50 ?? null },
          { name: 'p90', class: 'p90', value: (p) => p.waitSeconds?.p90 ?? null },
          { name: 'p99', class: 'p99', value: (p) => p.waitSeconds?.p99 ?? null },
        ]}
      />
    </div>
  );
}

/** The charts of the general line (no saleId) or of a sale's line, refreshed as the history grows. */
export function LineHistoryCharts({ adminKey, saleId, onFailure }: { adminKey: string; saleId?: string; onFailure: (failure: unknown) => void }) {
  const { lang, t } = useI18n();
  const [minutes, setMinutes] = useState(60);
  const [history, setHistory] = useState<LineHistory | null>(null);
  const [error, setError] = useState<string | null>(null);
  const prefix = saleId ? `history-${saleId}` : 'history-general';

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      let next = REFRESH_MIN_MS * 5;
      try {
        const fetched = saleId ? await adminApi.saleHistory(adminKey, saleId, minutes) : await adminApi.queueHistory(adminKey, minutes);
        if (stopped) return;
        setHistory(fetched);
        setError(null);
        next = Math.max(REFRESH_MIN_MS, fetched.bucketSeconds * 1000);
      } catch (failure) {
        if (stopped) return;
        if (failure instanceof ApiError && failure.code === 'INVALID_ADMIN_KEY') return onFailure(failure);
        setError(errorText(t, failure));
      }
      timer = setTimeout(load, next);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [adminKey, saleId, minutes]);

  return (
    <section class="history" aria-label={t.historyTitle} data-testid={prefix}>
      <div class="row window-choice" role="group" aria-label={t.historyWindow}>
        <span class="muted small">{t.historyWindow}</span>
        {WINDOWS.map((m) => (
          <button key={m} type="button" class="chip" aria-pressed={m === minutes} onClick={() => setMinutes(m)}>
            {windowLabel(t, m)}
          </button>
        ))}
      </div>
      {error && <p class="error small">{error}</p>}
      {history && charts(lang, t, history, prefix)}
    </section>
  );
}
