// The fan's journey as one small state machine: who (and which line: the general one or a sale's) →
// waiting room (a sale's pre-queue first) → concert, date, seat → hold and pay → confirmation, or a
// sale's final screen when it sells out or closes, or a sentence saying why the place ended. Everything
// it needs to resume after a reload is in the session. Wherever a join is one click away, the bot check
// is solved ahead of the click.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, type EndReason, fanApi, type QueueState, type Sale } from '../api';
import { errorText, formatCountdown, useI18n, type Dict } from '../i18n';
import { seatName } from './venue-map';
import { ErrorLine, Frame, StatusLine, useNow, Title } from '../shared';
import { useProofReady } from './bot-check';
import { Checkout } from './checkout';
import { ChooseUser } from './choose-user';
import { Confirmation } from './confirmation';
import { ConcertList, DateList } from './concerts';
import { DrawPanel } from './draw-panel';
import { joinLine } from './join';
import { SaleEnded } from './sale-ended';
import { SeatMap } from './seat-map';
import { backoffMs } from './backoff';
import { loadSession, saveSession, type FanSession } from './session';
import { WaitingRoom } from './waiting-room';

type Phase = 'who' | 'checking' | 'waiting' | 'active' | 'expired' | 'soldout' | 'closed';

/** Why the place ended, as the service said: a token's end reason, or its line was lost. */
type EndedWhy = EndReason | 'LINE_RESET' | undefined;

function firstPhase(session: FanSession | null): Phase {
  if (session?.ended) return session.ended === 'SOLD_OUT' ? 'soldout' : 'closed';
  if (!session?.token) return 'who';
  return session.payment ? 'active' : 'checking';
}

function isTokenEnded(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 'TOKEN_EXPIRED' || error.code === 'INVALID_TOKEN');
}

function isLineReset(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'LINE_RESET';
}

/** The service, not the fan's request, failed: worth asking again after a while. */
function isOutage(error: unknown): boolean {
  return !(error instanceof ApiError) || error.status === 0 || error.status >= 500;
}

function outageText(t: Dict): string {
  return typeof navigator !== 'undefined' && navigator.onLine === false ? t.offline : t.unreachable;
}

/** Where the progress bar starts: the place at join, except in a pre-queue, where it is not a place yet. */
function joinedPosition(state: QueueState): Pick<FanSession, 'startPosition'> {
  return state.phase === 'PREQUEUE' ? {} : { startPosition: state.position };
}

/** A refused join that is final for this sale: its seats are gone, or its time is over. */
function saleEndedBy(error: unknown): 'SOLD_OUT' | 'CLOSED' | null {
  if (!(error instanceof ApiError)) return null;
  return error.code === 'SOLD_OUT' ? 'SOLD_OUT' : error.code === 'SALE_CLOSED' ? 'CLOSED' : null;
}

/** On a join, USER_MISMATCH means the seller's site vouched for someone else than the chosen fan. */
function joinErrorText(t: Dict, error: unknown): string {
  return error instanceof ApiError && error.code === 'USER_MISMATCH' ? t.assertionMismatch : errorText(t, error);
}

export function FanApp() {
  const { t } = useI18n();
  const [session, setSessionState] = useState<FanSession | null>(loadSession);
  const [phase, setPhase] = useState<Phase>(() => firstPhase(session));
  const [queue, setQueue] = useState<QueueState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** A join is waiting for the bot check to finish (only when the fan was quicker than the worker). */
  const [checking, setChecking] = useState(false);
  /** The fan was given a new place because the line was restarted (said in the waiting room). */
  const [lineWasReset, setLineWasReset] = useState(false);
  const [endedWhy, setEndedWhy] = useState<EndedWhy>(undefined);
  /** The hold another tab of this place took, shown here instead of the one this tab tried. */
  const [heldElsewhere, setHeldElsewhere] = useState<string | null>(null);
  /** The sale whose Join button the fan pressed, while they choose who they are. */
  const [target, setTarget] = useState<Sale | null>(null);

  const setSession = useCallback((next: FanSession | null) => {
    saveSession(next);
    setSessionState(next);
  }, []);
  const patch = useCallback((changes: Partial<FanSession>) => {
    setSessionState((current) => {
      if (!current) return current;
      const next = { ...current, ...changes };
      saveSession(next);
      return next;
    });
  }, []);

  /** The sale's line is over for good; the final screen stays after a reload. */
  const endSale = useCallback((ended: 'SOLD_OUT' | 'CLOSED') => {
    setSessionState((current) => {
      if (!current) return current;
      const next: FanSession = { userId: current.userId, name: current.name, sale: current.sale, ended };
      saveSession(next);
      return next;
    });
    setPhase(ended === 'SOLD_OUT' ? 'soldout' : 'closed');
  }, []);

  /** The place ended: a sale's final screen when its sale sold out or closed, else a sentence saying why. */
  const endPlace = useCallback((why: EndedWhy) => {
    if (why === 'SALE_CLOSED') return endSale('CLOSED');
    if (why === 'SOLD_OUT' && loadSession()?.sale) return endSale('SOLD_OUT');
    setEndedWhy(why);
    setPhase('expired');
  }, []);

  /** Where a queue state sends the fan. */
  const enterQueueState = useCallback((state: QueueState) => {
    setQueue(state);
    if (state.status === 'SOLD_OUT') endSale('SOLD_OUT');
    else if (state.phase === 'CLOSED') endSale('CLOSED');
    else if (state.status === 'ACTIVE') setPhase('active');
    else if (state.status === 'WAITING') setPhase('waiting');
    else endPlace(state.reason);
  }, []);

  /**
   * The service lost its line (its queue store came back empty): the fan did nothing wrong, so they get
   * a new place at once, with a sentence saying why, instead of an "expired" screen.
   */
  const rejoinAfterReset = useCallback(() => {
    const current = loadSession();
    if (!current) return setPhase('who');
    setPhase('checking');
    joinLine(current.userId, current.sale?.saleId, setChecking).then(
      (issued) => {
        setSession({ userId: current.userId, name: current.name, token: issued.token, ...joinedPosition(issued), sale: current.sale });
        setLineWasReset(true);
        enterQueueState(issued);
      },
      (failure: unknown) => {
        const ended = saleEndedBy(failure);
        if (ended) return endSale(ended);
        setError(joinErrorText(t, failure));
        endPlace('LINE_RESET');
      },
    );
  }, [t]);

  /**
   * The token was refused as ended. The refusal may say why; if not, the token's own status does (a
   * poll answers a sale's sell-out with status SOLD_OUT, and an ended token with its reason).
   */
  const settleEndedToken = useCallback(
    (failure?: unknown) => {
      const told = failure instanceof ApiError ? failure.details.reason : undefined;
      const current = loadSession();
      if (told || !current?.token || (failure instanceof ApiError && failure.code === 'INVALID_TOKEN')) return endPlace(told);
      fanApi.queueState(current.token).then(enterQueueState, (again: unknown) => {
        if (isLineReset(again)) rejoinAfterReset();
        else endPlace(again instanceof ApiError ? again.details.reason : undefined);
      });
    },
    [rejoinAfterReset],
  );

  /** HOLD_EXISTS: this place already holds a seat (taken in another tab): show that hold and say so. */
  const showExistingHold = useCallback(
    (reservationId: string) => {
      const current = loadSession();
      if (!current?.token) return;
      const token = current.token;
      fanApi
        .reservation(token, reservationId)
        .then(async (reservation) => {
          const concert =
            current.concert?.concertId === reservation.concertId
              ? current.concert
              : (await fanApi.concerts(token)).concerts.find((c) => c.concertId === reservation.concertId);
          if (!concert) throw new ApiError(404, 'CONCERT_NOT_FOUND', 'the held seat is of a concert not listed');
          setHeldElsewhere(reservation.reservationId);
          patch({ concert, reservation, ...(current.date?.date === reservation.date ? {} : { date: undefined }) });
        })
        .catch((failure: unknown) => {
          if (!handleApiError(failure)) setError(errorText(t, { code: 'HOLD_EXISTS' }));
        });
    },
    [t],
  );

  /** A shared reaction to errors from any step: an ended token or a not-yet-active one moves the phase. */
  function handleApiError(failure: unknown): boolean {
    if (isLineReset(failure)) {
      rejoinAfterReset();
      return true;
    }
    if (isTokenEnded(failure)) {
      settleEndedToken(failure);
      return true;
    }
    if (failure instanceof ApiError && failure.code === 'HOLD_EXISTS' && failure.details.reservationId) {
      showExistingHold(failure.details.reservationId);
      return true;
    }
    const ended = saleEndedBy(failure);
    if (ended) {
      endSale(ended);
      return true;
    }
    if (failure instanceof ApiError && failure.code === 'TOKEN_NOT_ACTIVE') {
      setPhase('waiting');
      return true;
    }
    return false;
  }

  // After a reload: ask where this token stands before showing anything; through an outage, ask again
  // with back-off rather than stop at an error.
  useEffect(() => {
    if (phase !== 'checking' || !session?.token) return;
    const token = session.token;
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    const ask = () => {
      fanApi.queueState(token).then(
        (state) => {
          if (cancelled) return;
          setError(null);
          enterQueueState(state);
        },
        (failure: unknown) => {
          if (cancelled) return;
          if (isLineReset(failure)) rejoinAfterReset();
          else if (isTokenEnded(failure)) settleEndedToken(failure);
          else if (isOutage(failure)) {
            setError(outageText(t));
            timer = setTimeout(ask, backoffMs(attempt++));
          } else setError(errorText(t, failure));
        },
      );
    };
    ask();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [phase, session?.token]);

  // When the active time is up, ask once, so a fan idling on a list learns it without clicking.
  const activeUntil = phase === 'active' && !session?.payment && queue?.status === 'ACTIVE' ? Date.parse(queue.expiresAt) : NaN;
  useEffect(() => {
    if (!Number.isFinite(activeUntil) || !session?.token) return;
    const token = session.token;
    const timer = setTimeout(
      () => {
        fanApi.queueState(token).then(enterQueueState, (failure: unknown) => {
          if (isLineReset(failure)) rejoinAfterReset();
          else if (isTokenEnded(failure)) settleEndedToken(failure);
        });
      },
      Math.max(0, activeUntil - Date.now()) + 1000,
    );
    return () => clearTimeout(timer);
  }, [activeUntil, session?.token]);

  /** Joins the general line, or the line of `sale`. */
  const join = async (userId: string, name?: string, sale?: Sale) => {
    setBusy(true);
    setError(null);
    try {
      const issued = await joinLine(userId, sale?.saleId, setChecking);
      setLineWasReset(false);
      setEndedWhy(undefined);
      setTarget(null);
      setSession({ userId, name, token: issued.token, ...joinedPosition(issued), ...(sale ? { sale } : {}) });
      enterQueueState(issued);
    } catch (failure) {
      const ended = sale ? saleEndedBy(failure) : null;
      if (ended) {
        setTarget(null);
        setSession({ userId, name, sale, ended });
        setPhase(ended === 'SOLD_OUT' ? 'soldout' : 'closed');
      } else {
        setError(joinErrorText(t, failure));
      }
    } finally {
      setBusy(false);
      setChecking(false);
    }
  };

  // The screens with a Join button: choosing who (and which sale), the ended place, a sale's confirmation.
  useProofReady(!session || phase === 'who' || phase === 'expired' || Boolean(session.payment && session.sale));

  const startOver = () => {
    setSession(null);
    setQueue(null);
    setError(null);
    setTarget(null);
    setPhase('who');
  };

  const who = session ? (session.name ?? t.userShort(session.userId.slice(0, 8))) : '';
  const aside = session && phase !== 'who' ? <span class="who">{t.signedInAs(who)}</span> : undefined;

  if (!session || phase === 'who') {
    return (
      <Frame>
        <ChooseUser
          busy={busy}
          checking={checking}
          error={error}
          onJoin={(userId, name) => join(userId, name, target ?? undefined)}
          sale={target}
          onPickSale={(sale) => {
            setError(null);
            setTarget(sale);
          }}
          onClearSale={() => {
            setError(null);
            setTarget(null);
          }}
        />
      </Frame>
    );
  }

  if (session.payment && session.reservation) {
    return (
      <Frame aside={aside}>
        <Confirmation
          payment={session.payment}
          reservation={session.reservation}
          concert={session.concert}
          onDone={startOver}
          onJoinSaleAgain={session.sale ? () => join(session.userId, session.name, session.sale) : undefined}
          busy={busy}
        />
        <StatusLine text={checking ? t.checkingBrowser : null} />
      </Frame>
    );
  }

  if (phase === 'soldout' || phase === 'closed') {
    return (
      <Frame aside={aside}>
        <SaleEnded kind={phase} sale={session.sale} onDone={startOver} />
      </Frame>
    );
  }

  if (phase === 'expired') {
    return (
      <Frame aside={aside}>
        <section class="card" aria-labelledby="expired-title" data-testid="ended" data-reason={endedWhy ?? ''}>
          <Title id="expired-title">{t.expiredTitle}</Title>
          <p data-testid="ended-why">{(endedWhy && t.endedBecause[endedWhy]) || t.endedUnknown}</p>
          <p>{t.rejoinHint}</p>
          <ErrorLine text={error} />
          <StatusLine text={checking ? t.checkingBrowser : null} />
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => join(session.userId, session.name, session.sale)}>
              {busy ? t.joining : t.rejoin}
            </button>
            <button type="button" class="link" onClick={startOver}>
              {t.startOver}
            </button>
          </div>
        </section>
      </Frame>
    );
  }

  if (phase === 'checking' || !session.token) {
    return (
      <Frame aside={aside}>
        <p class="muted" role="status">
          {t.loading}
        </p>
        <ErrorLine text={error} />
        {error && (
          <button type="button" class="link" onClick={startOver}>
            {t.startOver}
          </button>
        )}
      </Frame>
    );
  }

  if (phase === 'waiting') {
    return (
      <Frame aside={aside}>
        <WaitingRoom
          token={session.token}
          initial={queue}
          startPosition={session.startPosition}
          onStartPosition={(startPosition) => patch({ startPosition })}
          onActive={enterQueueState}
          onExpired={endPlace}
          onFinal={enterQueueState}
          sale={session.sale}
          onLineReset={rejoinAfterReset}
          onLeave={startOver}
          notice={lineWasReset ? t.lineResetNotice : undefined}
        />
      </Frame>
    );
  }

  const token = session.token;
  const common = { token, userId: session.userId, onApiError: handleApiError };
  // Right after the open a fan is often let in at once: the draw's result and its check are here too.
  const saleId = session.sale?.saleId ?? queue?.saleId;
  const draw =
    saleId && queue?.entryId && typeof queue.drawRank === 'number' ? (
      <DrawPanel saleId={saleId} entryId={queue.entryId} drawRank={queue.drawRank} commitmentSeenBefore={session.sale?.draw.commitment} card />
    ) : null;
  let step: preact.JSX.Element;
  if (session.reservation?.status === 'HELD' && session.concert) {
    step = (
      <Checkout
        {...common}
        concert={session.concert}
        reservation={session.reservation}
        onPaid={(payment) => patch({ payment })}
        onBack={() => patch({ reservation: undefined })}
      />
    );
  } else if (!session.concert) {
    step = <ConcertList {...common} onPick={(concert) => patch({ concert, date: undefined })} />;
  } else if (!session.date) {
    step = <DateList {...common} concert={session.concert} onPick={(date) => patch({ date })} onBack={() => patch({ concert: undefined })} />;
  } else {
    step = (
      <SeatMap
        {...common}
        concert={session.concert}
        date={session.date}
        onHeld={(reservation) => patch({ reservation })}
        seatLimit={session.sale?.maxSeatsPerUser}
        onBack={() => patch({ date: undefined })}
      />
    );
  }
  const holdExists = session.reservation?.status === 'HELD' && session.reservation.reservationId === heldElsewhere;
  return (
    <Frame aside={aside}>
      <TurnBanner expiresAt={queue?.status === 'ACTIVE' ? queue.expiresAt : undefined} />
      {holdExists && session.reservation && (
        <p class="notice" role="status" data-testid="hold-exists">
          {t.holdExists(seatName(t, session.concert?.layout, session.reservation.seatNumber))}
        </p>
      )}
      {step}
      {!session.date && draw}
    </Frame>
  );
}

function TurnBanner({ expiresAt }: { expiresAt: string | undefined }) {
  const { t } = useI18n();
  const now = useNow(1000);
  const ends = expiresAt ? Date.parse(expiresAt) : NaN;
  return (
    <p class="banner">
      <strong>{t.yourTurn}</strong>
      {Number.isFinite(ends) && (
        <span role="timer" class="banner-timer">
          {' · '}
          {t.turnEndsIn(formatCountdown(ends - now))}
        </span>
      )}
    </p>
  );
}
