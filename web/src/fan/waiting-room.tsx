// The waiting room: place in line, estimated wait (or, while the operator has paused admission, a
// sentence saying so), progress since joining, the operator's message, and how fresh all of it is.
// The numbers come from queue-feed.ts (a live stream, else polls, backing off through an outage);
// when they cannot be had the page says whether the service or the fan's connection is away.
// In a sale's line it is the pre-queue until the open, then shows the place the draw gave.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type ApiError, type EndReason, fanApi, type QueueState, type Sale } from '../api';
import { formatNumber, formatWait, useI18n } from '../i18n';
import { Stat, Title, useNow } from '../shared';
import { DrawPanel } from './draw-panel';
import { PreQueue, useSale } from './prequeue';
import { type Link, useQueueFeed } from './queue-feed';

interface Props {
  token: string;
  initial: QueueState | null;
  /** The place this token had when it joined (after the draw, in a sale's line): where the progress bar starts. */
  startPosition: number | undefined;
  onStartPosition: (position: number) => void;
  onActive: (state: QueueState) => void;
  /** The place ended; `reason` says why when the service told. */
  onExpired: (reason: EndReason | undefined) => void;
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

/**
 * How far along the line the fan has come since joining: 0 % at the place they joined at (so the first
 * in line at join shows 0 % until admitted), approaching 100 % at the front.
 */
export function progressPercent(joinedAt: number | undefined, position: number | undefined): number {
  if (position === undefined || position < 1) return 0;
  const start = Math.max(joinedAt ?? position, position);
  return Math.round(((start - position) / start) * 100);
}

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
  const now = useNow(1000);
  const [state, setState] = useState<QueueState | null>(initial?.status === 'WAITING' ? initial : null);
  // The callbacks change on every render of the parent; the feed must not restart for that.
  const handlers = useRef({ onActive, onExpired, onFinal, onLineReset });
  handlers.current = { onActive, onExpired, onFinal, onLineReset };

  const feed = useQueueFeed(token, {
    onState: (next) => {
      if (next.status === 'ACTIVE') handlers.current.onActive(next);
      else if (next.status === 'EXPIRED') handlers.current.onExpired(next.reason);
      else if (next.status === 'SOLD_OUT' || next.phase === 'CLOSED') handlers.current.onFinal(next);
      else {
        setState(next);
        return true;
      }
      return false;
    },
    onRefused: (failure: ApiError) => {
      if (failure.code === 'LINE_RESET') handlers.current.onLineReset();
      else handlers.current.onExpired(failure.details.reason);
    },
  });

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
  const percent = progressPercent(startPosition, position);

  const outage = feed.link.kind === 'unreachable' || feed.link.kind === 'offline';
  const paused = state?.paused === true && !inPrequeue;
  const message = state?.message?.trim();

  return (
    <section class="card waiting" aria-labelledby={inPrequeue ? 'prequeue-title' : 'waiting-title'}>
      {inPrequeue ? <Title id="prequeue-title">{t.prequeueTitle}</Title> : <Title id="waiting-title">{t.waitingTitle}</Title>}
      {notice && (
        <p class="notice" role="status" data-testid="notice">
          {notice}
        </p>
      )}
      {/* Always in the page, so a message or a pause that arrives later is announced. */}
      <div role="status" class="announcements">
        {message && (
          <div class="operator-message" data-testid="operator-message">
            <p class="operator-message-label">{t.operatorMessage}</p>
            <p class="operator-message-text">{message}</p>
          </div>
        )}
        {paused && (
          <p class="notice" data-testid="paused">
            {t.pausedNotice}
          </p>
        )}
      </div>
      <OutageNotice link={feed.link} />
      {state && inPrequeue ? (
        <PreQueue state={state} sale={sale} />
      ) : state ? (
        <>
          <div class={outage ? 'stats stale' : 'stats'}>
            <Stat id="position-label" label={t.positionLabel} testId="position" big live>
              {formatNumber(lang, state.position)}
            </Stat>
            {!paused && (
              <Stat id="wait-label" label={t.waitLabel} testId="wait">
                {formatWait(t, state.estimatedWaitSeconds)}
              </Stat>
            )}
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
      <ConnectionLine link={feed.link} updatedAt={feed.updatedAt} now={now} onRetry={feed.retryNow} />
      <button type="button" class="link" onClick={onLeave}>
        {t.startOver}
      </button>
    </section>
  );
}

/** While the numbers cannot be refreshed: whose side the trouble is on, and that the place is kept. */
function OutageNotice({ link }: { link: Link }) {
  const { t } = useI18n();
  const outage = link.kind === 'unreachable' || link.kind === 'offline';
  // The live region stays in the page, so the sentence is announced when it appears.
  return (
    <div role="status">
      {outage && (
        <p class="notice outage" data-testid="connection" data-link={link.kind}>
          {link.kind === 'offline' ? t.offline : t.unreachable}
        </p>
      )}
    </div>
  );
}

/** How the page hears about the line, and how old the numbers on it are (ticking, so not a live region). */
function ConnectionLine({ link, updatedAt, now, onRetry }: { link: Link; updatedAt: number; now: number; onRetry: () => void }) {
  const { t } = useI18n();
  const age = updatedAt > 0 ? Math.max(0, Math.floor((now - updatedAt) / 1000)) : undefined;
  const parts: preact.JSX.Element[] = [];
  if (link.kind === 'live' || link.kind === 'polling') {
    parts.push(
      <span key="link">
        <span class={link.kind === 'live' ? 'dot live' : 'dot'} aria-hidden="true" />{' '}
        <span data-testid="link" data-link={link.kind}>
          {link.kind === 'polling' ? t.pollingUpdates(link.everySeconds) : t.liveUpdates}
        </span>
      </span>,
    );
  }
  if (link.kind === 'unreachable') {
    parts.push(
      <span key="next" data-testid="next-try">
        {t.nextTryIn(Math.max(0, Math.ceil((link.retryAt - now) / 1000)))}
      </span>,
    );
  }
  if (age !== undefined) {
    parts.push(
      <span key="updated" data-testid="updated" data-updated-at={updatedAt}>
        {t.updatedAgo(age)}
      </span>,
    );
  }
  if (link.kind === 'unreachable' || link.kind === 'offline') {
    parts.push(
      <button key="retry" type="button" class="link inline" onClick={onRetry}>
        {t.retryNow}
      </button>,
    );
  }
  return <p class="muted small connection-line">{parts.flatMap((part, i) => (i === 0 ? [part] : [' · ', part]))}</p>;
}
