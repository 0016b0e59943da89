// The waiting room: place in line, estimated wait and progress, pushed live over Server-Sent
// Events; when the stream fails it falls back to polling at the server's pollAfterSeconds.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, fanApi, type QueueState } from '../api';
import { errorText, formatNumber, formatWait, useI18n } from '../i18n';
import { ErrorLine, Title } from '../shared';

interface Props {
  token: string;
  initial: QueueState | null;
  startPosition: number | undefined;
  onStartPosition: (position: number) => void;
  onActive: (state: QueueState) => void;
  onExpired: () => void;
  onLeave: () => void;
}

const defaultPollSeconds = 2;

export function WaitingRoom({ token, initial, startPosition, onStartPosition, onActive, onExpired, onLeave }: Props) {
  const { lang, t } = useI18n();
  const [state, setState] = useState<QueueState | null>(initial?.status === 'WAITING' ? initial : null);
  const [mode, setMode] = useState<'live' | 'polling'>('live');
  const [pollSeconds, setPollSeconds] = useState(defaultPollSeconds);
  const [error, setError] = useState<unknown>(null);
  // The callbacks change on every render of the parent; the stream must not restart for that.
  const handlers = useRef({ onActive, onExpired });
  handlers.current = { onActive, onExpired };

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

  const position = state?.position;
  useEffect(() => {
    if (position !== undefined && position > (startPosition ?? 0)) onStartPosition(position);
  }, [position, startPosition]);

  const start = Math.max(startPosition ?? 0, position ?? 0, 1);
  const percent = position === undefined ? 0 : Math.round(((start - position + 1) / (start + 1)) * 100);

  return (
    <section class="card waiting" aria-labelledby="waiting-title">
      <Title id="waiting-title">{t.waitingTitle}</Title>
      {state ? (
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
          <div
            class="progress"
            role="progressbar"
            aria-label={t.progressLabel}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent}
          >
            <div class="progress-fill" style={{ width: `${percent}%` }} />
          </div>
        </>
      ) : (
        <p class="muted" role="status">
          {t.loading}
        </p>
      )}
      <p>{t.keepOpen}</p>
      <p class="muted small" role="status">
        <span class={mode === 'live' ? 'dot live' : 'dot'} aria-hidden="true" />{' '}
        {mode === 'live' ? t.liveUpdates : t.pollingUpdates(pollSeconds)}
      </p>
      <ErrorLine text={error ? errorText(t, error) : null} />
      <button type="button" class="link" onClick={onLeave}>
        {t.startOver}
      </button>
    </section>
  );
}
