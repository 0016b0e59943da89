// The scheduled on-sales on the first page: what each sells, a live countdown to its next moment
// (the pre-queue opening, then the draw and the open), the seats left and, when it can be joined, a
// Join button. The list needs no token; it is re-read every few seconds and whenever a moment passes.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, fanApi, type Sale, type SalePhase } from '../api';
import { formatLongCountdown, formatNumber, formatWhen, useI18n } from '../i18n';
import { useNow } from '../shared';

const refreshMs = 5000;

/** The phase as the clock here sees it, so a countdown reaching 0 flips it before the next read. */
export function phaseNow(sale: Sale, now: number): SalePhase {
  if (sale.phase === 'SCHEDULED' && now >= Date.parse(sale.queueOpensAt)) return now >= Date.parse(sale.opensAt) ? 'OPEN' : 'PREQUEUE';
  if (sale.phase === 'PREQUEUE' && now >= Date.parse(sale.opensAt)) return 'OPEN';
  return sale.phase;
}

export function isJoinable(phase: SalePhase): boolean {
  return phase === 'PREQUEUE' || phase === 'OPEN';
}

/** The sales not closed, soonest first; an empty list when the server has none (or no sales at all). */
export function useSales(): Sale[] | null {
  const [sales, setSales] = useState<Sale[] | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      let wait = refreshMs;
      try {
        const answer = await fanApi.sales();
        if (stopped) return;
        const list = Array.isArray(answer.sales) ? answer.sales.filter((sale) => sale.phase !== 'CLOSED') : [];
        setSales(list);
        // Read again just after the next moment any sale passes, so its phase comes from the server soon.
        const now = Date.now();
        const next = list
          .flatMap((sale) => [Date.parse(sale.queueOpensAt), Date.parse(sale.opensAt)])
          .filter((at) => at > now)
          .reduce((soonest, at) => Math.min(soonest, at), Infinity);
        wait = Math.min(refreshMs, Math.max(500, next - now + 500));
      } catch (failure) {
        if (stopped) return;
        // A server without sales answers 404: then the page is just the general line, as before.
        if (failure instanceof ApiError && failure.status === 404) return setSales([]);
        setSales((current) => current ?? []);
      }
      if (!stopped) timer = setTimeout(load, wait);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return sales;
}

/** Phase, countdown and seats of one sale, ticking every second. */
export function SaleFacts({ sale }: { sale: Sale }) {
  const { lang, t } = useI18n();
  const now = useNow(1000);
  const phase = phaseNow(sale, now);
  let countdown: string | null = null;
  if (phase === 'SCHEDULED') countdown = t.lineOpensIn(formatLongCountdown(t, Date.parse(sale.queueOpensAt) - now));
  else if (phase === 'PREQUEUE') countdown = t.saleOpensIn(formatLongCountdown(t, Date.parse(sale.opensAt) - now));
  return (
    <>
      <p class="sale-line">
        <span class={`phase-badge ${phase.toLowerCase().replace('_', '-')}`} data-testid="sale-phase">
          {t.salePhase[phase] ?? phase}
        </span>
        {phase !== 'SOLD_OUT' && (
          <span class="small" data-testid="sale-seats">
            {t.saleSeatsLeft(formatNumber(lang, sale.seatsLeft))}
          </span>
        )}
      </p>
      {countdown && (
        <p class="sale-countdown" role="timer" aria-atomic="true" data-testid="sale-countdown">
          {countdown}
        </p>
      )}
      {phase === 'SCHEDULED' && <p class="muted small">{t.saleOpensAt(formatWhen(lang, sale.opensAt, now))}</p>}
    </>
  );
}

export function SaleList({ sales, busy, onJoin }: { sales: Sale[]; busy: boolean; onJoin: (sale: Sale) => void }) {
  const { t } = useI18n();
  const now = useNow(1000);
  return (
    <section class="block" aria-labelledby="sales-title" data-testid="sales">
      <h2 id="sales-title">{t.salesTitle}</h2>
      <p class="muted small">{t.salesIntro}</p>
      <ul class="sales">
        {sales.map((sale) => (
          <li key={sale.saleId} class="sale" data-testid="sale" data-sale-id={sale.saleId}>
            <span class="choice-title">{sale.title}</span>
            <span class="choice-sub">{sale.venue}</span>
            <SaleFacts sale={sale} />
            {isJoinable(phaseNow(sale, now)) && (
              <button type="button" class="primary" disabled={busy} aria-label={t.joinSaleFor(sale.title)} onClick={() => onJoin(sale)}>
                {t.joinSale}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
