// Choosing what to see: the concerts on sale, then the dates of one that still have seats.
import { useEffect, useState } from 'preact/hooks';
import { fanApi, type Concert, type ConcertDate } from '../api';
import { errorText, formatDay, formatMoney, formatNumber, formatVenueTime, useI18n, type Dict, type Lang } from '../i18n';
import { ErrorLine, Title } from '../shared';

export interface StepProps {
  token: string;
  userId: string;
  /** Returns true when the app took over (the token ended or is not active any more). */
  onApiError: (error: unknown) => boolean;
}

/** Loads once per key; errors the app handles (ended token) are not shown here. */
function useLoad<T>(load: () => Promise<T>, onApiError: StepProps['onApiError'], key: string) {
  const { t } = useI18n();
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    setValue(null);
    setError(null);
    load()
      .then((answer) => !cancelled && setValue(answer))
      .catch((failure: unknown) => {
        if (cancelled || onApiError(failure)) return;
        setError(errorText(t, failure));
      });
    return () => {
      cancelled = true;
    };
  }, [key]);
  return { value, error };
}

export function ConcertList({ token, onApiError, onPick }: StepProps & { onPick: (concert: Concert) => void }) {
  const { t } = useI18n();
  const { value, error } = useLoad(() => fanApi.concerts(token), onApiError, token);
  return (
    <section class="card" aria-labelledby="concerts-title">
      <Title id="concerts-title">{t.concertsTitle}</Title>
      <ErrorLine text={error} />
      {!value && !error && (
        <p class="muted" role="status">
          {t.loading}
        </p>
      )}
      {value && value.concerts.length === 0 && <p>{t.noConcerts}</p>}
      {value && value.concerts.length > 0 && (
        <ul class="choices">
          {value.concerts.map((concert) => (
            <li key={concert.concertId}>
              <button type="button" class="choice wide" onClick={() => onPick(concert)}>
                <span class="choice-title">{concert.title}</span>
                <span class="choice-sub">{concert.venue}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** "99,000 won – 165,000 won", or one price when every seat costs the same. */
function priceRange(lang: Lang, t: Dict, date: ConcertDate): string | null {
  const { minPrice, maxPrice } = date;
  if (minPrice === undefined || maxPrice === undefined) return null;
  return minPrice === maxPrice ? formatMoney(lang, minPrice) : t.priceRange(formatMoney(lang, minPrice), formatMoney(lang, maxPrice));
}

export function DateList({
  token,
  onApiError,
  concert,
  onPick,
  onBack,
}: StepProps & { concert: Concert; onPick: (date: ConcertDate) => void; onBack: () => void }) {
  const { lang, t } = useI18n();
  const { value, error } = useLoad(() => fanApi.dates(token, concert.concertId), onApiError, concert.concertId);
  return (
    <section class="card" aria-labelledby="dates-title">
      <p class="crumb">
        <button type="button" class="link" onClick={onBack}>
          ← {t.backToConcerts}
        </button>
      </p>
      <Title id="dates-title">{t.datesTitle}</Title>
      <p class="muted">
        {concert.title} · {concert.venue}
      </p>
      <ErrorLine text={error} />
      {!value && !error && (
        <p class="muted" role="status">
          {t.loading}
        </p>
      )}
      {value && value.dates.length === 0 && <p>{t.noDates}</p>}
      {value && value.dates.length > 0 && (
        <ul class="choices">
          {value.dates.map((date) => (
            <li key={date.date}>
              <button type="button" class="choice wide" onClick={() => onPick(date)}>
                <span class="choice-title">
                  {formatDay(lang, date.date)} <span data-testid="date-time">{formatVenueTime(lang, date.startsAt, concert.timeZone)}</span>
                </span>
                <span class="choice-sub">{t.seatsLeft(formatNumber(lang, date.availableSeats), formatNumber(lang, date.totalSeats))}</span>
                {priceRange(lang, t, date) && (
                  <span class="choice-sub" data-testid="price-range">
                    {priceRange(lang, t, date)}
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
