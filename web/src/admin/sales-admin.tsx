// The operator's on-sales: a form that puts a concert on sale at set times (and a small one that adds a
// concert, since the API lists concerts only to fans in line), and one panel per sale with its live
// numbers, polled every 3 s, and its two levers: pause/resume and the number of fans active at once.
import { useEffect, useState } from 'preact/hooks';
import { adminApi, ApiError, type AdminSale, type SaleChange } from '../api';
import { errorText, formatClock, formatNumber, formatWhen, formatZone, useI18n } from '../i18n';
import { ErrorLine } from '../shared';
import { LineHistoryCharts } from './line-history';
import { LineMessageForm } from './line-message';

const pollMs = 3000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A moment as a datetime-local input shows it: the browser's local time, to the minute. */
function toLocalInput(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

/** A datetime-local value (local time) as an ISO instant; null when empty or not a time. */
function fromLocalInput(value: string): string | null {
  if (!value.trim()) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

function minutesFromNow(minutes: number): Date {
  const at = new Date(Date.now() + minutes * 60_000);
  at.setSeconds(0, 0);
  return at;
}

function wholeNumber(value: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(value.trim())) return null;
  const n = Number(value);
  return n >= min && n <= max ? n : null;
}

export function SalesAdmin({ adminKey, onRejected }: { adminKey: string; onRejected: (reason: string) => void }) {
  const { lang, t } = useI18n();
  const [sales, setSales] = useState<AdminSale[] | null>(null);
  const [unsupported, setUnsupported] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const [concertId, setConcertId] = useState('');

  const reject = (failure: unknown) => {
    if (failure instanceof ApiError && failure.code === 'INVALID_ADMIN_KEY') onRejected(errorText(t, failure));
    else setError(errorText(t, failure));
  };

  const replace = (sale: AdminSale) =>
    setSales((current) => {
      const list = current ?? [];
      return list.some((s) => s.saleId === sale.saleId) ? list.map((s) => (s.saleId === sale.saleId ? sale : s)) : [...list, sale];
    });

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const answer = await adminApi.sales(adminKey);
        if (stopped) return;
        setSales(answer.sales);
        setUpdatedAt(new Date());
        setError(null);
      } catch (failure) {
        if (stopped) return;
        // A server without sales (or with the operator API off, which the queue panel already says).
        if (failure instanceof ApiError && failure.status === 404) {
          setUnsupported(true);
          return;
        }
        reject(failure);
      }
      if (!stopped) timer = setTimeout(poll, pollMs);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [adminKey]);

  if (unsupported) return null;

  return (
    <section class="card wide-card after" aria-labelledby="sales-admin-title" data-testid="sales-admin">
      <h2 id="sales-admin-title" class="section-title">
        {t.salesAdminTitle}
      </h2>
      <ErrorLine text={error} />
      {sales === null ? (
        !error && (
          <p class="muted" role="status">
            {t.loading}
          </p>
        )
      ) : sales.length === 0 ? (
        <p class="muted">{t.noSales}</p>
      ) : (
        <div class="sale-panels">
          {sales.map((sale) => (
            <SalePanel key={sale.saleId} sale={sale} adminKey={adminKey} onChanged={replace} onFailure={reject} />
          ))}
        </div>
      )}
      {updatedAt && <p class="muted small">{t.updatedAt(formatClock(lang, updatedAt))}</p>}
      <NewSaleForm adminKey={adminKey} concertId={concertId} onConcertId={setConcertId} onCreated={replace} onRejected={onRejected} />
      <NewConcertForm adminKey={adminKey} onCreated={setConcertId} onRejected={onRejected} />
    </section>
  );
}

function SalePanel({
  sale,
  adminKey,
  onChanged,
  onFailure,
}: {
  sale: AdminSale;
  adminKey: string;
  onChanged: (sale: AdminSale) => void;
  onFailure: (failure: unknown) => void;
}) {
  const { lang, t } = useI18n();
  const [limit, setLimit] = useState(String(sale.activeLimit));
  const [limitTouched, setLimitTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const n = (value: number) => formatNumber(lang, value);
  const id = sale.saleId;

  useEffect(() => {
    if (!limitTouched) setLimit(String(sale.activeLimit));
  }, [sale.activeLimit, limitTouched]);

  const update = async (body: SaleChange, done: (next: AdminSale) => string) => {
    setBusy(true);
    setStatus(null);
    setFormError(null);
    try {
      const next = await adminApi.updateSale(adminKey, id, body);
      onChanged(next);
      setStatus(done(next));
    } catch (failure) {
      if (failure instanceof ApiError && failure.code !== 'INVALID_ADMIN_KEY') setFormError(errorText(t, failure));
      else onFailure(failure);
    } finally {
      setBusy(false);
    }
  };

  const saveLimit = (event: Event) => {
    event.preventDefault();
    const value = wholeNumber(limit, 0, 1_000_000);
    if (value === null) {
      setFormError(t.badLimit);
      return;
    }
    setLimitTouched(false);
    void update({ activeLimit: value }, (next) => t.saleLimitSet(next.title, n(next.activeLimit)));
  };

  const tiles: [string, string, string][] = [
    ['sale-phase', t.phase, t.salePhase[sale.phase] ?? sale.phase],
    ['sale-waiting', t.waiting, n(sale.waiting)],
    ['sale-active', t.active, n(sale.active)],
    ['sale-admitted', t.admittedPerMinute, n(sale.admittedPerMinute)],
    ['sale-limit', t.saleActiveLimit, n(sale.activeLimit)],
    ['sale-sold', t.sold, n(sale.sold)],
    ['sale-held', t.held, n(sale.held)],
    ['sale-free', t.free, n(sale.free)],
  ];

  return (
    <article class="sale-panel" aria-labelledby={`sale-title-${id}`} data-testid="sale-panel" data-sale-id={id}>
      <h3 id={`sale-title-${id}`}>{sale.title}</h3>
      <p class="muted small">
        {sale.venue} · <span class="mono">{sale.concertId}</span>
      </p>
      <p class="small" data-testid="sale-schedule">
        {t.scheduleLine(formatWhen(lang, sale.queueOpensAt), formatWhen(lang, sale.opensAt), sale.closesAt ? formatWhen(lang, sale.closesAt) : null)}
      </p>
      <dl class="tiles compact">
        {tiles.map(([testId, label, value]) => (
          <div key={testId} class={testId === 'sale-phase' ? 'wide-tile' : undefined}>
            <dt>{label}</dt>
            <dd data-testid={testId}>{value}</dd>
          </div>
        ))}
        <div>
          <dt>{t.admission}</dt>
          <dd data-testid="sale-admission" class={sale.paused ? 'state paused' : 'state running'}>
            {sale.paused ? t.paused : t.running}
          </dd>
        </div>
      </dl>
      <div class="controls">
        <button
          type="button"
          class={sale.paused ? 'primary' : 'danger'}
          disabled={busy}
          onClick={() => update({ paused: !sale.paused }, (next) => (next.paused ? t.salePausedNow(next.title) : t.saleResumedNow(next.title)))}
        >
          {sale.paused ? t.resumeSale : t.pauseSale}
        </button>
        <form class="row" onSubmit={saveLimit} noValidate>
          <label for={`sale-limit-${id}`}>{t.saleActiveLimit}</label>
          <input
            id={`sale-limit-${id}`}
            class="narrow"
            inputMode="numeric"
            value={limit}
            onInput={(event) => {
              setLimit(event.currentTarget.value.replace(/[^\d]/g, ''));
              setLimitTouched(true);
            }}
          />
          <button type="submit" disabled={busy}>
            {t.saveSaleLimit}
          </button>
        </form>
      </div>
      <LineMessageForm
        id={id}
        message={sale.message}
        busy={busy}
        onSave={(message) => update({ message }, (next) => (next.message === null ? t.messageCleared : t.messagePosted))}
      />
      <ErrorLine text={formError} />
      {status && (
        <p class="success" role="status">
          {status}
        </p>
      )}
      <LineHistoryCharts adminKey={adminKey} saleId={id} onFailure={onFailure} />
    </article>
  );
}

function NewSaleForm({
  adminKey,
  concertId,
  onConcertId,
  onCreated,
  onRejected,
}: {
  adminKey: string;
  concertId: string;
  onConcertId: (id: string) => void;
  onCreated: (sale: AdminSale) => void;
  onRejected: (reason: string) => void;
}) {
  const { lang, t } = useI18n();
  const [queueOpensAt, setQueueOpensAt] = useState(() => toLocalInput(minutesFromNow(1)));
  const [opensAt, setOpensAt] = useState(() => toLocalInput(minutesFromNow(11)));
  const [closesAt, setClosesAt] = useState('');
  const [activeLimit, setActiveLimit] = useState('');
  const [maxSeats, setMaxSeats] = useState('4');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setDone(null);
    const id = concertId.trim();
    const queueAt = fromLocalInput(queueOpensAt);
    const openAt = fromLocalInput(opensAt);
    const closeAt = fromLocalInput(closesAt);
    const seats = wholeNumber(maxSeats, 1, 200);
    const limit = activeLimit.trim() === '' ? undefined : wholeNumber(activeLimit, 0, 1_000_000);
    let problem: string | null = null;
    if (!uuidPattern.test(id)) problem = t.badConcertId;
    else if (!queueAt || !openAt) problem = t.missingTimes;
    else if (queueAt > openAt || (closeAt !== null && closeAt <= openAt) || (closesAt.trim() !== '' && closeAt === null)) problem = t.badTimes;
    else if (seats === null) problem = t.badSeatsPerFan;
    else if (limit === null) problem = t.badLimit;
    if (problem || !queueAt || !openAt || seats === null || limit === null) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const sale = await adminApi.createSale(adminKey, {
        concertId: id,
        queueOpensAt: queueAt,
        opensAt: openAt,
        ...(closeAt ? { closesAt: closeAt } : {}),
        ...(limit !== undefined ? { activeLimit: limit } : {}),
        maxSeatsPerUser: seats,
      });
      onCreated(sale);
      setDone(t.saleCreated(sale.title));
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === 'INVALID_ADMIN_KEY') onRejected(errorText(t, failure));
      else setError(errorText(t, failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="block sale-form" onSubmit={submit} noValidate aria-labelledby="new-sale-title" data-testid="new-sale-form">
      <h3 id="new-sale-title">{t.newSaleTitle}</h3>
      <p class="muted small">{t.timesHint(formatZone(lang))}</p>
      <div class="form-grid">
        <div class="field span-all">
          <label for="new-sale-concert">{t.concertIdLabel}</label>
          <input
            id="new-sale-concert"
            autoComplete="off"
            spellcheck={false}
            aria-describedby="new-sale-concert-hint"
            value={concertId}
            onInput={(event) => onConcertId(event.currentTarget.value)}
          />
          <p id="new-sale-concert-hint" class="muted small">
            {t.concertIdHint}
          </p>
        </div>
        <div class="field">
          <label for="new-sale-queue-opens">{t.queueOpensAtLabel}</label>
          <input id="new-sale-queue-opens" type="datetime-local" value={queueOpensAt} onInput={(event) => setQueueOpensAt(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="new-sale-opens">{t.opensAtLabel}</label>
          <input id="new-sale-opens" type="datetime-local" value={opensAt} onInput={(event) => setOpensAt(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="new-sale-closes">{t.closesAtLabel}</label>
          <input id="new-sale-closes" type="datetime-local" value={closesAt} onInput={(event) => setClosesAt(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="new-sale-limit">{t.saleActiveLimitOptional}</label>
          <input
            id="new-sale-limit"
            inputMode="numeric"
            value={activeLimit}
            onInput={(event) => setActiveLimit(event.currentTarget.value.replace(/[^\d]/g, ''))}
          />
        </div>
        <div class="field">
          <label for="new-sale-max-seats">{t.maxSeatsLabel}</label>
          <input
            id="new-sale-max-seats"
            inputMode="numeric"
            value={maxSeats}
            onInput={(event) => setMaxSeats(event.currentTarget.value.replace(/[^\d]/g, ''))}
          />
        </div>
      </div>
      <ErrorLine text={error} />
      {done && (
        <p class="success" role="status">
          {done}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? t.creating : t.createSale}
      </button>
    </form>
  );
}

function NewConcertForm({
  adminKey,
  onCreated,
  onRejected,
}: {
  adminKey: string;
  onCreated: (concertId: string) => void;
  onRejected: (reason: string) => void;
}) {
  const { t } = useI18n();
  const [title, setTitle] = useState('');
  const [venue, setVenue] = useState('');
  const [startsAt, setStartsAt] = useState(() => toLocalInput(new Date(Date.now() + 30 * 86_400_000)).slice(0, 11) + '19:00');
  const [seatCount, setSeatCount] = useState('50');
  const [price, setPrice] = useState('50000');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setDone(null);
    const at = fromLocalInput(startsAt);
    const seats = wholeNumber(seatCount, 1, 200);
    const won = wholeNumber(price, 1, 100_000_000);
    if (!title.trim() || !venue.trim() || !at || seats === null || won === null) {
      setError(t.badConcert);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // The concert's calendar day is the day the operator typed, in their own time zone.
      const { concertId } = await adminApi.createConcert(adminKey, {
        title: title.trim(),
        venue: venue.trim(),
        dates: [{ date: startsAt.slice(0, 10), startsAt: at, seatCount: seats, price: won }],
      });
      onCreated(concertId);
      setDone(t.concertAdded(concertId));
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === 'INVALID_ADMIN_KEY') onRejected(errorText(t, failure));
      else setError(errorText(t, failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <details class="block">
      <summary>{t.addConcertTitle}</summary>
      <form class="sale-form" onSubmit={submit} noValidate aria-label={t.addConcertTitle} data-testid="new-concert-form">
        <div class="form-grid">
          <div class="field">
            <label for="new-concert-title">{t.titleLabel}</label>
            <input id="new-concert-title" autoComplete="off" value={title} onInput={(event) => setTitle(event.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="new-concert-venue">{t.venueLabel}</label>
            <input id="new-concert-venue" autoComplete="off" value={venue} onInput={(event) => setVenue(event.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="new-concert-starts">{t.startsAtLabel}</label>
            <input id="new-concert-starts" type="datetime-local" value={startsAt} onInput={(event) => setStartsAt(event.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="new-concert-seats">{t.seatCountLabel}</label>
            <input
              id="new-concert-seats"
              inputMode="numeric"
              value={seatCount}
              onInput={(event) => setSeatCount(event.currentTarget.value.replace(/[^\d]/g, ''))}
            />
          </div>
          <div class="field">
            <label for="new-concert-price">{t.priceWonLabel}</label>
            <input id="new-concert-price" inputMode="numeric" value={price} onInput={(event) => setPrice(event.currentTarget.value.replace(/[^\d]/g, ''))} />
          </div>
        </div>
        <ErrorLine text={error} />
        {done && (
          <p class="success" role="status">
            {done}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t.addConcert}
        </button>
      </form>
    </details>
  );
}
