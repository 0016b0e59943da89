// First page: the scheduled on-sales (each joined through a line of its own), then who you are: a
// demo fan (listed only in demo mode) or a pasted user id. Choosing who you are joins the general line,
// or, after a sale's Join button, that sale's line.
import { useEffect, useState } from 'preact/hooks';
import { fanApi, type Sale } from '../api';
import { useI18n } from '../i18n';
import { ErrorLine, StatusLine, Title } from '../shared';
import { assertedUserId } from './assertion';
import { SaleFacts, SaleList, useSales } from './sales';
import { isUserId } from './session';

interface DemoUser {
  userId: string;
  name: string;
}

/** "Demo fan 2" → "D2", "Mina" → "M". */
function initials(name: string): string {
  const words = name.trim().split(/\s+/);
  const first = words[0]?.[0] ?? '?';
  const last = words.length > 1 ? (words[words.length - 1]?.[0] ?? '') : '';
  return (first + last).toUpperCase();
}

interface Props {
  busy: boolean;
  /** The join waits for the bot check to finish. */
  checking: boolean;
  error: string | null;
  onJoin: (userId: string, name?: string) => void;
  /** The sale whose line the fan is about to join; null for the general line. */
  sale: Sale | null;
  onPickSale: (sale: Sale) => void;
  onClearSale: () => void;
}

export function ChooseUser({ busy, checking, error, onJoin, sale, onPickSale, onClearSale }: Props) {
  const { t } = useI18n();
  const sales = useSales();
  const [demoUsers, setDemoUsers] = useState<DemoUser[] | null>(null);
  // Arriving from the seller's site, the fan is whoever the seller signed them in as.
  const [userId, setUserId] = useState(() => assertedUserId() ?? '');
  const [formError, setFormError] = useState<string | null>(null);

  useEffect(() => {
    // Outside demo mode the endpoint answers 404; then only the id form is shown.
    fanApi
      .demoUsers()
      .then((answer) => setDemoUsers(Array.isArray(answer.users) ? answer.users : []))
      .catch(() => setDemoUsers([]));
  }, []);

  const submit = (event: Event) => {
    event.preventDefault();
    const id = userId.trim();
    if (!isUserId(id)) {
      setFormError(t.badUserId);
      return;
    }
    setFormError(null);
    onJoin(id);
  };

  return (
    <section class="card" aria-labelledby={sale ? 'who-sale-title' : 'who-title'}>
      {sale ? (
        <>
          <p class="crumb">
            <button type="button" class="link" onClick={onClearSale}>
              ← {t.backToSales}
            </button>
          </p>
          <Title id="who-sale-title">{t.joinSaleTitle(sale.title)}</Title>
          <div class="sale-summary" data-testid="chosen-sale">
            <span class="choice-sub">{sale.venue}</span>
            <SaleFacts sale={sales?.find((s) => s.saleId === sale.saleId) ?? sale} />
          </div>
          <p>{t.joinSaleIntro}</p>
        </>
      ) : (
        <>
          <Title id="who-title">{t.whoTitle}</Title>
          <p>{t.whoIntro}</p>
        </>
      )}
      <ErrorLine text={error} />
      <StatusLine text={checking ? t.checkingBrowser : null} />
      {!sale && sales && sales.length > 0 && (
        <>
          <SaleList sales={sales} busy={busy} onJoin={onPickSale} />
          <h2 class="block">{t.generalTitle}</h2>
          <p class="muted small">{t.generalIntro}</p>
        </>
      )}
      {demoUsers === null && (
        <p class="muted" role="status">
          {t.loading}
        </p>
      )}
      {demoUsers && demoUsers.length > 0 && (
        <div class="block" role="group" aria-labelledby="demo-title">
          <h2 id="demo-title">{t.demoTitle}</h2>
          <p class="muted">{t.demoHint}</p>
          <ul class="choices">
            {demoUsers.map((user) => (
              <li key={user.userId}>
                {/* The initials are a picture (drawn by CSS from data-initials), not words of the name. */}
                <button type="button" class="choice" disabled={busy} aria-label={t.continueAs(user.name)} onClick={() => onJoin(user.userId, user.name)}>
                  <span class="avatar" aria-hidden="true" data-initials={initials(user.name)} />
                  {user.name}
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      <form class="block" onSubmit={submit} noValidate>
        <label for="user-id">{t.userIdLabel}</label>
        <p id="user-id-hint" class="muted small">
          {t.userIdHint}
        </p>
        <div class="row">
          <input
            id="user-id"
            name="userId"
            autoComplete="off"
            spellcheck={false}
            aria-describedby={formError ? 'user-id-hint user-id-error' : 'user-id-hint'}
            aria-invalid={formError ? true : undefined}
            value={userId}
            onInput={(event) => setUserId(event.currentTarget.value)}
          />
          <button type="submit" class="primary" disabled={busy}>
            {busy ? t.joining : t.joinLine}
          </button>
        </div>
        {formError && (
          <p id="user-id-error" class="error" role="alert">
            {formError}
          </p>
        )}
      </form>
    </section>
  );
}
