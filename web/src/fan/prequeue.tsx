// The pre-queue of a sale (WAITING while its phase is PREQUEUE): how the draw works in plain words,
// the countdown to the open, how many fans are here, and the draw's commitment. The sale is re-read
// now and then, because the operator may move the open while fans wait.
import { useEffect, useState } from 'preact/hooks';
import { fanApi, type QueueState, type Sale } from '../api';
import { formatLongCountdown, formatNumber, formatWhen, formatZone, useI18n } from '../i18n';
import { Stat, useNow } from '../shared';

const refreshMs = 15_000;

/** The sale as last read, starting from what the page already knows. */
export function useSale(saleId: string | undefined, known: Sale | undefined): Sale | undefined {
  const [sale, setSale] = useState<Sale | undefined>(known?.saleId === saleId ? known : undefined);
  useEffect(() => {
    if (!saleId) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const next = await fanApi.sale(saleId);
        if (!stopped) setSale(next);
      } catch {
        // the countdown keeps the times it had; the line's own state still comes through the stream
      }
      if (!stopped) timer = setTimeout(load, refreshMs);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [saleId]);
  return sale;
}

/** "3fa9c1d2e0b4…" — enough to compare by eye; the whole is one click away. */
export function shortHex(hex: string, length = 12): string {
  return hex.length > length ? `${hex.slice(0, length)}…` : hex;
}

export function PreQueue({ state, sale }: { state: QueueState; sale: Sale | undefined }) {
  const { lang, t } = useI18n();
  const now = useNow(1000);
  const opensAt = sale ? Date.parse(sale.opensAt) : NaN;
  const left = opensAt - now;
  const commitment = sale?.draw.commitment;
  return (
    <>
      {sale && (
        <p class="muted" data-testid="prequeue-sale">
          {sale.title} · {sale.venue}
        </p>
      )}
      {sale && (
        <p class="explain" data-testid="draw-explain">
          {t.drawExplain(formatWhen(lang, sale.opensAt, now), formatZone(lang, sale.opensAt))}
        </p>
      )}
      {Number.isFinite(left) && (
        <p class="countdown big-countdown" role="timer" aria-atomic="true" data-testid="draw-countdown">
          {left > 0 ? t.drawIn(formatLongCountdown(t, left)) : t.drawNow}
        </p>
      )}
      <div class="stats">
        <Stat id="prequeue-count-label" label={t.prequeueCount} testId="prequeue-count" big>
          {formatNumber(lang, state.position)}
        </Stat>
      </div>
      <p class="small">{t.prequeueRange}</p>
      {commitment && (
        <div class="commitment" role="group" aria-labelledby="commitment-label">
          <p>
            <span id="commitment-label" class="stat-label">
              {t.commitmentLabel}
            </span>{' '}
            <code class="mono" data-testid="commitment" data-commitment={commitment}>
              {shortHex(commitment)}
            </code>
          </p>
          <p class="small muted">{t.commitmentExplain}</p>
          <details class="small">
            <summary>{t.commitmentFull}</summary>
            <code class="mono">{commitment}</code>
          </details>
        </div>
      )}
      <p>{t.prequeueKeepOpen}</p>
    </>
  );
}
