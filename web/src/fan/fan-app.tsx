// The fan's journey as one small state machine: who → waiting room → concert, date, seat →
// hold and pay → confirmation. Everything it needs to resume after a reload is in the session.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, fanApi, type QueueState } from '../api';
import { errorText, formatCountdown, useI18n } from '../i18n';
import { ErrorLine, Frame, useNow, Title } from '../shared';
import { Checkout } from './checkout';
import { ChooseUser } from './choose-user';
import { Confirmation } from './confirmation';
import { ConcertList, DateList } from './concerts';
import { SeatMap } from './seat-map';
import { loadSession, saveSession, type FanSession } from './session';
import { WaitingRoom } from './waiting-room';

type Phase = 'who' | 'checking' | 'waiting' | 'active' | 'expired';

function firstPhase(session: FanSession | null): Phase {
  if (!session?.token) return 'who';
  return session.payment ? 'active' : 'checking';
}

function isTokenEnded(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 'TOKEN_EXPIRED' || error.code === 'INVALID_TOKEN');
}

export function FanApp() {
  const { t } = useI18n();
  const [session, setSessionState] = useState<FanSession | null>(loadSession);
  const [phase, setPhase] = useState<Phase>(() => firstPhase(session));
  const [queue, setQueue] = useState<QueueState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const setSession = useCallback((next: FanSession | null) => {
    saveSession(next);
    setSessionState(next);
  }, []);
  const patch = useCallback(
    (changes: Partial<FanSession>) => {
      setSessionState((current) => {
        if (!current) return current;
        const next = { ...current, ...changes };
        saveSession(next);
        return next;
      });
    },
    [],
  );

  /** Where a queue state sends the fan. */
  const enterQueueState = useCallback(
    (state: QueueState) => {
      setQueue(state);
      if (state.status === 'ACTIVE') setPhase('active');
      else if (state.status === 'WAITING') setPhase('waiting');
      else setPhase('expired');
    },
    [],
  );

  /** A shared reaction to errors from any step: an ended token or a not-yet-active one moves the phase. */
  const handleApiError = useCallback(
    (failure: unknown): boolean => {
      if (isTokenEnded(failure)) {
        setPhase('expired');
        return true;
      }
      if (failure instanceof ApiError && failure.code === 'TOKEN_NOT_ACTIVE') {
        setPhase('waiting');
        return true;
      }
      return false;
    },
    [],
  );

  // After a reload: ask where this token stands before showing anything.
  useEffect(() => {
    if (phase !== 'checking' || !session?.token) return;
    let cancelled = false;
    fanApi
      .queueState(session.token)
      .then((state) => !cancelled && enterQueueState(state))
      .catch((failure: unknown) => {
        if (cancelled) return;
        if (isTokenEnded(failure)) setPhase('expired');
        else setError(errorText(t, failure));
      });
    return () => {
      cancelled = true;
    };
  }, [phase, session?.token]);

  // When the active time is up, ask once, so a fan idling on a list learns it without clicking.
  const activeUntil = phase === 'active' && !session?.payment && queue?.status === 'ACTIVE' ? Date.parse(queue.expiresAt) : NaN;
  useEffect(() => {
    if (!Number.isFinite(activeUntil) || !session?.token) return;
    const token = session.token;
    const timer = setTimeout(() => {
      fanApi.queueState(token).then(enterQueueState, (failure: unknown) => {
        if (isTokenEnded(failure)) setPhase('expired');
      });
    }, Math.max(0, activeUntil - Date.now()) + 1000);
    return () => clearTimeout(timer);
  }, [activeUntil, session?.token]);

  const join = async (userId: string, name?: string) => {
    setBusy(true);
    setError(null);
    try {
      const issued = await fanApi.issueToken(userId);
      setSession({ userId, name, token: issued.token, startPosition: issued.position });
      enterQueueState(issued);
    } catch (failure) {
      setError(errorText(t, failure));
    } finally {
      setBusy(false);
    }
  };

  const startOver = () => {
    setSession(null);
    setQueue(null);
    setError(null);
    setPhase('who');
  };

  const who = session ? (session.name ?? t.userShort(session.userId.slice(0, 8))) : '';
  const aside = session && phase !== 'who' ? <span class="who">{t.signedInAs(who)}</span> : undefined;

  if (!session || phase === 'who') {
    return (
      <Frame>
        <ChooseUser busy={busy} error={error} onJoin={join} />
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
        />
      </Frame>
    );
  }

  if (phase === 'expired') {
    return (
      <Frame aside={aside}>
        <section class="card" aria-labelledby="expired-title">
          <Title id="expired-title">{t.expiredTitle}</Title>
          <p>{t.expiredText}</p>
          <ErrorLine text={error} />
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => join(session.userId, session.name)}>
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
          onExpired={() => setPhase('expired')}
          onLeave={startOver}
        />
      </Frame>
    );
  }

  const token = session.token;
  const common = { token, userId: session.userId, onApiError: handleApiError };
  let step;
  if (!session.concert) {
    step = <ConcertList {...common} onPick={(concert) => patch({ concert, date: undefined })} />;
  } else if (!session.date) {
    step = (
      <DateList
        {...common}
        concert={session.concert}
        onPick={(date) => patch({ date })}
        onBack={() => patch({ concert: undefined })}
      />
    );
  } else if (!session.reservation || session.reservation.status !== 'HELD') {
    step = (
      <SeatMap
        {...common}
        concert={session.concert}
        date={session.date}
        onHeld={(reservation) => patch({ reservation })}
        onBack={() => patch({ date: undefined })}
      />
    );
  } else {
    step = (
      <Checkout
        {...common}
        concert={session.concert}
        reservation={session.reservation}
        onPaid={(payment) => patch({ payment })}
        onBack={() => patch({ reservation: undefined })}
      />
    );
  }
  return (
    <Frame aside={aside}>
      <TurnBanner expiresAt={queue?.status === 'ACTIVE' ? queue.expiresAt : undefined} />
      {step}
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
