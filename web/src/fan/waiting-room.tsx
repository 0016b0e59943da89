// The waiting room: place in line, estimated wait and progress, pushed live over Server-Sent
// Events; when the stream fails it falls back to polling at the server's pollAfterSeconds.
// In a sale's line it is the pre-queue until the open, then shows the place the draw gave.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, fanApi, type QueueState, type Sale } from '../api';
import { errorText, formatNumber, formatWait, useI18n } from '../i18n';
import { ErrorLine, Title } from '../shared';
import { DrawPanel } from './draw-panel';
import { PreQueue, useSale } from './prequeue';

interface Props {
  token: string;
  initial: QueueState | null;
  startPosition: number | undefined;
  onStartPosition: (position: number) => void;
  onActive: (state: QueueState) => void;
  onExpired: () => void;
  /** The sale's line ended for good: it sold out (status SOLD_OUT) or closed (phase CLOSED). */
  onFinal: (state: QueueState) => void;
  /** The sale this line belongs to, as known when the fan joined; none for the general line. */
  sale?: Sale | undefined;
  /** The line was lost and started again (the service lost its queue store): the fan needs a new place. */
  onLineReset: () => void;
  onLeave: () => void;
  /** Shown above the place in line, e.g. why the fan was given a new place. */
  notice?: string | undefined;
}

const defaultPollSeconds = 2;

export function WaitingRoom({
  token,
  initial,
  startPosition,
  onStartPosition,
  onActive,
  onExpired,
  onFinal,
  sale: knownSale,
  onLineReset,
  onLeave,
  notice,
}: Props) {
  const { lang, t } = useI18n();
  const [state, setState] = useState<QueueState | null>(initial?.status === 'WAITING' ? initial : null);
  const [mode, setMode] = useState<'live' | 'polling'>('live');
  const [pollSeconds, setPollSeconds] = useState(defaultPollSeconds);
  const [error, setError] = useState<unknown>(null);
  // The callbacks change on every render of the parent; the stream must not restart for that.
  const handlers = useRef({ onActive, onExpired, onFinal, onLineReset });
  handlers.current = { onActive, onExpired, onFinal, onLineReset };

  useEffect(() => {
    let stopped = false;
    let stream: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const handle = (next: QueueState) => {
      if (stopped) return;
      setError(null);
      if (next.status === 'ACTIVE') {
        stopped = true;
        stream?.close();
        handlers.current.onActive(next);
      } else if (next.status === 'EXPIRED') {
        stopped = true;
        stream?.close();
        handlers.current.onExpired();
      } else if (next.status === 'SOLD_OUT' || next.phase === 'CLOSED') {
        stopped = true;
        stream?.close();
        handlers.current.onFinal(next);
      } else {
        setState(next);
      }
    };

    const poll = async () => {
      if (stopped) return;
      let wait = defaultPollSeconds;
      try {
        const next = await fanApi.queueState(token);
        handle(next);
        wait = next.pollAfterSeconds && next.pollAfterSeconds > 0 ? next.pollAfterSeconds : defaultPollSeconds;
        setPollSeconds(wait);
      } catch (failure) {
        if (failure instanceof ApiError && failure.code === 'LINE_RESET') {
          stopped = true;
          handlers.current.onLineReset();
          return;
        }
        if (failure instanceof ApiError && (failure.code === 'TOKEN_EXPIRED' || failure.code === 'INVALID_TOKEN')) {
          stopped = true;
          handlers.current.onExpired();
          return;
        }
        if (!stopped) setError(failure);
      }
      if (!stopped) timer = setTimeout(poll, wait * 1000);
    };

    const fallBackToPolling = () => {
      stream?.close();
      stream = null;
      if (stopped) return;
      setMode('polling');
      void poll();
    };

    if (typeof EventSource === 'function') {
      stream = new EventSource(fanApi.queueEventsUrl(token));
      stream.onmessage = (event: MessageEvent<string>) => {
        try {
          handle(JSON.parse(event.data) as QueueState);
        } catch {
          // a malformed event is ignored; the next one or the fallback will correct the state
        }
      };
      // EventSource would retry by itself; the contract asks for polling instead, which also
      // tells an expired token apart from a dropped connection.
      stream.onerror = fallBackToPolling;
    } else {
      fallBackToPolling();
    }

    return () => {
      stopped = true;
      stream?.close();
      clearTimeout(timer);
    };
  }, [token]);

  const saleId = state?.saleId ?? knownSale?.saleId;
  const sale = useSale(saleId, knownSale);
  const inPrequeue = state?.phase === 'PREQUEUE';

  // The line's own state need not say that its sale closed: the sale itself does, so once it says
  // CLOSED (re-read now and then, and just after closesAt) the waiting is over.
  const closesAt = sale?.closesAt ? Date.parse(sale.closesAt) : NaN;
  const saleClosed = sale?.phase === 'CLOSED';
  useEffect(() => {
    if (!saleClosed || !state) return;
    handlers.current.onFinal({ ...state, phase: 'CLOSED' });
  }, [saleClosed]);
  useEffect(() => {
    if (!Number.isFinite(closesAt) || !saleId) return;
    const timer = setTimeout(
      () => {
        fanApi.sale(saleId).then(
          (next) => {
            if (next.phase === 'CLOSED' && state) handlers.current.onFinal({ ...state, phase: 'CLOSED' });
          },
          () => {},
        );
      },
      Math.min(Math.max(0, closesAt - Date.now()) + 1500, 2_000_000_000),
    );
    return () => clearTimeout(timer);
  }, [closesAt, saleId]);

  // In the pre-queue the position is its size, not a place: the progress bar starts at the draw.
  const position = inPrequeue ? undefined : state?.position;
  useEffect(() => {
    if (position !== undefined && position > (startPosition ?? 0)) onStartPosition(position);
  }, [position, startPosition]);

  const start = Math.max(startPosition ?? 0, position ?? 0, 1);
  const percent = position === undefined ? 0 : Math.round(((start - position + 1) / (start + 1)) * 100);

  return (
    <section class="card waiting" aria-labelledby={inPrequeue ? 'prequeue-title' : 'waiting-title'}>
      {inPrequeue ? <Title id="prequeue-title">{t.prequeueTitle}</Title> : <Title id="waiting-title">{t.waitingTitle}</Title>}
      {notice && (
        <p class="notice" role="status" data-testid="notice">
          {notice}
        </p>
      )}
      {state && inPrequeue ? (
        <PreQueue state={state} sale={sale} />
      ) : state ? (
        <>
          <div class="stats">
            <div class="stat">
              <span class="stat-label" id="position-label">
                {t.positionLabel}
              </span>
              <span class="stat-value big" aria-labelledby="position-label" aria-live="polite" data-testid="position">
                {formatNumber(lang, state.position)}
              </span>
            </div>
            <div class="stat">
              <span class="stat-label" id="wait-label">
                {t.waitLabel}
              </span>
              <span class="stat-value" aria-labelledby="wait-label" data-testid="wait">
                {formatWait(t, state.estimatedWaitSeconds)}
              </span>
            </div>
          </div>
          <div class="progress" role="progressbar" aria-label={t.progressLabel} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
            <div class="progress-fill" style={{ width: `${percent}%` }} />
          </div>
          {saleId && state.entryId && typeof state.drawRank === 'number' && (
            <DrawPanel saleId={saleId} entryId={state.entryId} drawRank={state.drawRank} commitmentSeenBefore={knownSale?.draw.commitment} />
          )}
          {saleId && state.drawRank === null && state.phase !== 'PREQUEUE' && <p class="muted">{t.joinedAfterDraw}</p>}
        </>
      ) : (
        <p class="muted" role="status">
          {t.loading}
        </p>
      )}
      {!inPrequeue && <p>{t.keepOpen}</p>}
      <p class="muted small" role="status">
        <span class={mode === 'live' ? 'dot live' : 'dot'} aria-hidden="true" /> {mode === 'live' ? t.liveUpdates : t.pollingUpdates(pollSeconds)}
      </p>
      <ErrorLine text={error ? errorText(t, error) : null} />
      <button type="button" class="link" onClick={onLeave}>
        {t.startOver}
      </button>
    </section>
  );
}
