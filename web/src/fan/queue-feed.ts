// How the waiting room hears about its place in line: a Server-Sent Events stream first, polls at the
// server's pollAfterSeconds when the stream cannot be had, and, while the service cannot be reached or
// the fan is offline, retries that back off exponentially with full jitter (so a crowd whose server
// came back does not return all in the same second), resuming the stream as soon as it answers again.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, fanApi, type QueueState } from '../api';
import { backoffMs } from './backoff';

const defaultPollSeconds = 2;
/**
 * The service sends the state at least every 15 s on an open stream; one silent for this long is
 * treated as dropped (a proxy may hold a dead connection open without telling the page).
 */
const streamSilenceMs = 45_000;

/** How the page is connected now, for the line under the numbers. */
export type Link =
  | { kind: 'live' }
  | { kind: 'polling'; everySeconds: number }
  /** The service answered 5xx or could not be reached while the browser says it is online. */
  | { kind: 'unreachable'; retryAt: number }
  /** The browser says it is offline. */
  | { kind: 'offline' };

export interface FeedHandlers {
  /** A state from the stream or a poll; returning false stops the feed (the page moves on). */
  onState: (state: QueueState) => boolean;
  /** The service refused the token for good (TOKEN_EXPIRED, INVALID_TOKEN, LINE_RESET): polling stops. */
  onRefused: (failure: ApiError) => void;
}

export interface Feed {
  link: Link;
  /** When the last state arrived (ms since the epoch); 0 before the first. */
  updatedAt: number;
  /** Skips the rest of a back-off wait and asks at once. */
  retryNow: () => void;
}

function isRefusal(failure: unknown): failure is ApiError {
  return failure instanceof ApiError && (failure.code === 'TOKEN_EXPIRED' || failure.code === 'INVALID_TOKEN' || failure.code === 'LINE_RESET');
}

/** An answer that says nothing about the token, only that the service is not serving now. */
function isOutage(failure: unknown): boolean {
  return !(failure instanceof ApiError) || failure.status === 0 || failure.status >= 500;
}

/**
 * Follows `token` until onState returns false, the token is refused, or the token changes. `handlers`
 * may change on every render.
 */
export function useQueueFeed(token: string, handlers: FeedHandlers): Feed {
  const [link, setLink] = useState<Link>({ kind: 'live' });
  const [updatedAt, setUpdatedAt] = useState(0);
  const current = useRef(handlers);
  current.current = handlers;
  const retry = useRef<() => void>(() => {});

  useEffect(() => {
    let stopped = false;
    let stream: EventSource | null = null;
    let pollTimer: ReturnType<typeof setTimeout> | undefined;
    let streamTimer: ReturnType<typeof setTimeout> | undefined;
    let silenceTimer: ReturnType<typeof setTimeout> | undefined;
    let polling = false;
    /** Polls in a row that found the service unreachable. */
    let failures = 0;
    /** Streams in a row that failed while polls got through: the stream is retried with back-off. */
    let streamFailures = 0;

    const stop = () => {
      stopped = true;
      stream?.close();
      stream = null;
      clearTimeout(pollTimer);
      clearTimeout(streamTimer);
      clearTimeout(silenceTimer);
    };

    const receive = (state: QueueState) => {
      setUpdatedAt(Date.now());
      if (!current.current.onState(state)) stop();
    };

    const closeStream = () => {
      clearTimeout(silenceTimer);
      stream?.close();
      stream = null;
    };

    const watchSilence = (source: EventSource) => {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => {
        if (stream !== source) return;
        closeStream();
        void poll(true);
      }, streamSilenceMs);
    };

    const openStream = () => {
      clearTimeout(streamTimer);
      if (stopped || stream) return;
      if (typeof EventSource !== 'function') {
        void poll(false);
        return;
      }
      const source = new EventSource(fanApi.queueEventsUrl(token));
      stream = source;
      watchSilence(source);
      source.onmessage = (event: MessageEvent<string>) => {
        if (stopped || stream !== source) return;
        let state: QueueState;
        try {
          state = JSON.parse(event.data) as QueueState;
        } catch {
          return; // a malformed event is ignored; the next one (at most 15 s away) corrects the state
        }
        failures = 0;
        streamFailures = 0;
        clearTimeout(pollTimer);
        watchSilence(source);
        setLink({ kind: 'live' });
        receive(state);
      };
      // EventSource would retry by itself, blindly and at a fixed pace. Instead a poll finds out why:
      // an ended token, an unreachable service (back off), or a stream that cannot be had (poll instead).
      source.onerror = () => {
        if (stream !== source) return;
        closeStream();
        if (!stopped) void poll(false);
      };
    };

    /** One poll, then what comes next. `resumeStream`: reopen the stream if the poll gets through. */
    const poll = async (resumeStream: boolean) => {
      if (stopped || polling) return;
      clearTimeout(pollTimer);
      polling = true;
      let next: QueueState;
      try {
        next = await fanApi.queueState(token);
      } catch (failure) {
        polling = false;
        if (stopped) return;
        if (isRefusal(failure)) {
          stop();
          current.current.onRefused(failure);
          return;
        }
        if (isOutage(failure)) {
          // The stream comes back with the service (a poll that gets through reopens it), not before.
          clearTimeout(streamTimer);
          const floor = failure instanceof ApiError && failure.retryAfterSeconds ? failure.retryAfterSeconds * 1000 : 0;
          const wait = Math.max(floor, backoffMs(failures));
          failures++;
          const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
          setLink(offline ? { kind: 'offline' } : { kind: 'unreachable', retryAt: Date.now() + wait });
          pollTimer = setTimeout(() => void poll(true), wait);
        } else {
          // Any other refusal (a 429, say) is not an outage: ask again at the usual pace.
          pollTimer = setTimeout(() => void poll(resumeStream), defaultPollSeconds * 1000);
        }
        return;
      }
      polling = false;
      if (stopped) return;
      const recovered = failures > 0 || resumeStream;
      failures = 0;
      receive(next);
      if (stopped || stream) return;
      if (recovered) {
        // The service answers again: back to the stream at once.
        streamFailures = 0;
        openStream();
        if (stream) return;
      }
      const every = next.pollAfterSeconds && next.pollAfterSeconds > 0 ? next.pollAfterSeconds : defaultPollSeconds;
      setLink({ kind: 'polling', everySeconds: every });
      pollTimer = setTimeout(() => void poll(false), every * 1000);
      if (!recovered) {
        // The service answers polls but the stream failed: try it again, less and less often.
        clearTimeout(streamTimer);
        streamTimer = setTimeout(openStream, Math.max(every * 1000, backoffMs(streamFailures + 2)));
        streamFailures++;
      }
    };

    retry.current = () => {
      if (stopped) return;
      failures = 0;
      void poll(true);
    };
    const online = () => retry.current();
    // The browser knows it lost the network: an open stream may not notice for a long while, so drop it,
    // say so, and keep asking now and then (the 'online' event, or a retry, brings everything back).
    const offline = () => {
      if (stopped) return;
      closeStream();
      setLink({ kind: 'offline' });
      if (polling) return;
      clearTimeout(pollTimer);
      pollTimer = setTimeout(() => void poll(true), backoffMs(failures++));
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);

    openStream();
    return () => {
      stop();
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
    };
  }, [token]);

  return { link, updatedAt, retryNow: () => retry.current() };
}
