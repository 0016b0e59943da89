// A held seat: the countdown to heldUntil, the balance, a top-up when it is short, and payment.
// Charges and the payment carry an Idempotency-Key, reused when the same request is retried.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, fanApi, newIdempotencyKey, type Concert, type Payment, type Reservation } from '../api';
import { errorText, formatCountdown, formatDay, formatMoney, useI18n } from '../i18n';
import { seatName } from './venue-map';
import { ErrorLine, useNow, Title } from '../shared';
import type { StepProps } from './concerts';

interface Props extends StepProps {
  concert: Concert;
  reservation: Reservation;
  onPaid: (payment: Payment) => void;
  onBack: () => void;
}

export function Checkout({ token, userId, onApiError, concert, reservation, onPaid, onBack }: Props) {
  const { lang, t } = useI18n();
  const now = useNow(250);
  const [balance, setBalance] = useState<number | null>(null);
  const [amount, setAmount] = useState('');
  const [chargeKey, setChargeKey] = useState<string | null>(null);
  const [payKey] = useState(newIdempotencyKey);
  const [busy, setBusy] = useState<'charge' | 'pay' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [lapsed, setLapsed] = useState(false);

  const price = reservation.price;
  const shortBy = balance === null ? 0 : Math.max(0, price - balance);
  const remaining = Date.parse(reservation.heldUntil) - now;
  const holdOver = lapsed || remaining <= 0;

  useEffect(() => {
    fanApi
      .balance(token, userId)
      .then((answer) => setBalance(answer.balance))
      .catch((failure: unknown) => {
        if (!onApiError(failure)) setError(errorText(t, failure));
      });
  }, [token, userId]);

  // Suggest exactly what is missing; the fan may change it.
  useEffect(() => {
    if (shortBy > 0) setAmount(String(shortBy));
  }, [shortBy]);

  const fail = (failure: unknown) => {
    if (onApiError(failure)) return;
    if (failure instanceof ApiError && failure.code === 'RESERVATION_EXPIRED') setLapsed(true);
    setError(errorText(t, failure));
  };

  const charge = async (event: Event) => {
    event.preventDefault();
    const value = Number(amount);
    if (!Number.isInteger(value) || value < 1 || value > 10_000_000) {
      setError(t.errors['INVALID_AMOUNT'] ?? t.errorGeneric);
      return;
    }
    const key = chargeKey ?? newIdempotencyKey();
    setChargeKey(key);
    setBusy('charge');
    setError(null);
    setDone(null);
    try {
      const answer = await fanApi.charge(token, userId, value, key);
      setBalance(answer.balance);
      setChargeKey(null);
      setDone(t.added(formatMoney(lang, answer.balance)));
    } catch (failure) {
      // A refused charge is not stored, so a new attempt may use a new key.
      if (failure instanceof ApiError && failure.status !== 0 && failure.status !== 409) setChargeKey(null);
      fail(failure);
    } finally {
      setBusy(null);
    }
  };

  const pay = async () => {
    setBusy('pay');
    setError(null);
    setDone(null);
    try {
      onPaid(await fanApi.pay(token, userId, reservation.reservationId, payKey));
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === 'INSUFFICIENT_BALANCE') {
        fanApi.balance(token, userId).then(
          (answer) => setBalance(answer.balance),
          () => {},
        );
      }
      fail(failure);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section class="card" aria-labelledby={holdOver ? 'hold-ended-title' : 'held-title'}>
      {/* A new id when the hold lapses: the heading changes and takes focus, so the change is heard too. */}
      {holdOver ? (
        <Title id="hold-ended-title">{t.holdEndedTitle(seatName(t, concert.layout, reservation.seatNumber))}</Title>
      ) : (
        <Title id="held-title">{t.heldTitle(seatName(t, concert.layout, reservation.seatNumber))}</Title>
      )}
      {holdOver ? (
        <p class="notice" role="alert">
          {t.holdLapsed}
        </p>
      ) : (
        <p class="countdown" role="timer" aria-atomic="true">
          {t.holdEndsIn(formatCountdown(remaining))}
        </p>
      )}
      <dl class="facts">
        <div>
          <dt>{t.concertLabel}</dt>
          <dd>{concert.title}</dd>
        </div>
        <div>
          <dt>{t.dateLabel}</dt>
          <dd>{formatDay(lang, reservation.date)}</dd>
        </div>
        <div>
          <dt>{t.seatLabel}</dt>
          <dd>{concert.layout ? seatName(t, concert.layout, reservation.seatNumber) : reservation.seatNumber}</dd>
        </div>
        <div>
          <dt>{t.priceLabel}</dt>
          <dd data-testid="price">{formatMoney(lang, price)}</dd>
        </div>
        <div>
          <dt>{t.balanceLabel}</dt>
          <dd data-testid="balance">{balance === null ? '…' : formatMoney(lang, balance)}</dd>
        </div>
      </dl>
      {done && (
        <p class="success" role="status">
          {done}
        </p>
      )}
      <ErrorLine text={error} />
      {holdOver ? (
        <button type="button" class="primary" onClick={onBack}>
          {t.chooseAnother}
        </button>
      ) : (
        <>
          {shortBy > 0 && (
            <form class="block topup" onSubmit={charge} noValidate aria-labelledby="topup-title">
              <h2 id="topup-title">{t.topUpTitle}</h2>
              <p class="notice">{t.shortBy(formatMoney(lang, shortBy))}</p>
              <label for="topup-amount">{t.amountLabel}</label>
              <div class="row">
                <input
                  id="topup-amount"
                  name="amount"
                  inputMode="numeric"
                  pattern="[0-9]*"
                  autoComplete="off"
                  value={amount}
                  onInput={(event) => {
                    setAmount(event.currentTarget.value.replace(/[^\d]/g, ''));
                    setChargeKey(null);
                  }}
                />
                <button type="submit" class="primary" disabled={busy !== null}>
                  {busy === 'charge' ? t.adding : t.addPoints}
                </button>
              </div>
            </form>
          )}
          <div class="actions">
            <button type="button" class="primary pay" disabled={busy !== null || shortBy > 0} onClick={pay}>
              {busy === 'pay' ? t.paying : t.pay(formatMoney(lang, price))}
            </button>
            <button type="button" class="link" onClick={onBack}>
              {t.chooseAnother}
            </button>
          </div>
        </>
      )}
    </section>
  );
}
