// The operator page: live queue numbers polled every 2 s, the line's history charted from the server's
// record (line-history.tsx), and the two levers the contract offers: pause/resume and the active limit.
// Below the general line, the scheduled on-sales (sales-admin.tsx), each with the same charts.
import { useEffect, useState } from 'preact/hooks';
import { adminApi, ApiError, type QueueStats } from '../api';
import { errorText, formatClock, formatNumber, useI18n } from '../i18n';
import { ErrorLine, Frame, Title } from '../shared';
import { LineHistoryCharts } from './line-history';
import { LineMessageForm } from './line-message';
import { SalesAdmin } from './sales-admin';

const pollMs = 2000;
const keyStorage = 'boxoffice.adminKey';

function storedKey(): string {
  try {
    return sessionStorage.getItem(keyStorage) ?? '';
  } catch {
    return '';
  }
}

export function AdminApp() {
  const { t } = useI18n();
  const [adminKey, setAdminKey] = useState(storedKey);
  const [signInError, setSignInError] = useState<string | null>(null);

  const signIn = (key: string) => {
    try {
      sessionStorage.setItem(keyStorage, key);
    } catch {
      // kept in memory only
    }
    setSignInError(null);
    setAdminKey(key);
  };
  const signOut = (reason: string | null) => {
    try {
      sessionStorage.removeItem(keyStorage);
    } catch {
      // nothing stored
    }
    setSignInError(reason);
    setAdminKey('');
  };

  return (
    <Frame
      subtitle={t.adminTitle}
      aside={
        adminKey ? (
          <button type="button" class="link" onClick={() => signOut(null)}>
            {t.signOut}
          </button>
        ) : undefined
      }
    >
      {adminKey ? (
        <>
          <QueuePanel adminKey={adminKey} onRejected={(reason) => signOut(reason)} />
          <SalesAdmin adminKey={adminKey} onRejected={(reason) => signOut(reason)} />
        </>
      ) : (
        <KeyForm error={signInError} onSubmit={signIn} />
      )}
    </Frame>
  );
}

function KeyForm({ error, onSubmit }: { error: string | null; onSubmit: (key: string) => void }) {
  const { t } = useI18n();
  const [key, setKey] = useState('');
  return (
    <section class="card" aria-labelledby="admin-title">
      <Title id="admin-title">{t.adminTitle}</Title>
      <ErrorLine text={error} />
      <form
        class="block"
        onSubmit={(event) => {
          event.preventDefault();
          if (key.trim()) onSubmit(key.trim());
        }}
      >
        <label for="admin-key">{t.adminKeyLabel}</label>
        <div class="row">
          <input id="admin-key" type="password" autoComplete="current-password" value={key} onInput={(event) => setKey(event.currentTarget.value)} />
          <button type="submit" class="primary">
            {t.signIn}
          </button>
        </div>
      </form>
    </section>
  );
}

function QueuePanel({ adminKey, onRejected }: { adminKey: string; onRejected: (reason: string) => void }) {
  const { lang, t } = useI18n();
  const [stats, setStats] = useState<QueueStats | null>(null);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [limit, setLimit] = useState('');
  const [limitTouched, setLimitTouched] = useState(false);
  const [busy, setBusy] = useState(false);

  const accept = (next: QueueStats) => {
    setStats(next);
    setUpdatedAt(new Date());
    setError(null);
  };

  const reject = (failure: unknown) => {
    if (failure instanceof ApiError && failure.code === 'INVALID_ADMIN_KEY') onRejected(errorText(t, failure));
    else if (failure instanceof ApiError && failure.code === 'NOT_FOUND') setError(t.adminOff);
    else setError(errorText(t, failure));
  };

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await adminApi.queue(adminKey);
        if (!stopped) accept(next);
      } catch (failure) {
        if (!stopped) reject(failure);
      }
      if (!stopped) timer = setTimeout(poll, pollMs);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [adminKey]);

  useEffect(() => {
    if (stats && !limitTouched) setLimit(String(stats.activeLimit));
  }, [stats?.activeLimit, limitTouched]);

  const update = async (body: { paused?: boolean; activeLimit?: number; message?: string | null }, done: (next: QueueStats) => string) => {
    setBusy(true);
    setStatus(null);
    try {
      const next = await adminApi.updateQueue(adminKey, body);
      accept(next);
      setStatus(done(next));
    } catch (failure) {
      reject(failure);
    } finally {
      setBusy(false);
    }
  };

  const saveLimit = (event: Event) => {
    event.preventDefault();
    const value = Number(limit);
    if (limit.trim() === '' || !Number.isInteger(value) || value < 0 || value > 1_000_000) {
      setError(t.badLimit);
      return;
    }
    setLimitTouched(false);
    void update({ activeLimit: value }, (next) => t.limitSaved(next.activeLimit));
  };

  const n = (value: number) => formatNumber(lang, value);

  return (
    <section class="card wide-card" aria-labelledby="queue-title">
      <Title id="queue-title">{t.adminTitle}</Title>
      <ErrorLine text={error} />
      {!stats ? (
        !error && (
          <p class="muted" role="status">
            {t.loading}
          </p>
        )
      ) : (
        <>
          <dl class="tiles">
            <div>
              <dt>{t.waiting}</dt>
              <dd data-testid="waiting">{n(stats.waiting)}</dd>
            </div>
            <div>
              <dt>{t.active}</dt>
              <dd data-testid="active">{n(stats.active)}</dd>
            </div>
            <div>
              <dt>{t.admittedPerMinute}</dt>
              <dd data-testid="admitted">{n(stats.admittedPerMinute)}</dd>
            </div>
            <div>
              <dt>{t.activeLimit}</dt>
              <dd data-testid="limit">{n(stats.activeLimit)}</dd>
            </div>
            <div>
              <dt>{t.admission}</dt>
              <dd data-testid="admission" class={stats.paused ? 'state paused' : 'state running'}>
                {stats.paused ? t.paused : t.running}
              </dd>
            </div>
          </dl>
          {updatedAt && <p class="muted small">{t.updatedAt(formatClock(lang, updatedAt))}</p>}
          <div class="controls">
            <button
              type="button"
              class={stats.paused ? 'primary' : 'danger'}
              disabled={busy}
              onClick={() => update({ paused: !stats.paused }, (next) => (next.paused ? t.pausedNow : t.resumedNow))}
            >
              {stats.paused ? t.resume : t.pause}
            </button>
            <form class="row" onSubmit={saveLimit} noValidate>
              <label for="active-limit">{t.activeLimit}</label>
              <input
                id="active-limit"
                class="narrow"
                inputMode="numeric"
                value={limit}
                onInput={(event) => {
                  setLimit(event.currentTarget.value.replace(/[^\d]/g, ''));
                  setLimitTouched(true);
                }}
              />
              <button type="submit" disabled={busy}>
                {t.saveLimit}
              </button>
            </form>
          </div>
          <LineMessageForm
            id="general"
            message={stats.message}
            busy={busy}
            onSave={(message) => update({ message }, (next) => (next.message === null ? t.messageCleared : t.messagePosted))}
          />
          {status && (
            <p class="success" role="status">
              {status}
            </p>
          )}
          <LineHistoryCharts adminKey={adminKey} onFailure={reject} />
        </>
      )}
    </section>
  );
}
