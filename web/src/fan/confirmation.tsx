// The end of the journey: what was bought and the payment id to show at the door.
import type { Concert, Payment, Reservation } from '../api';
import { formatDay, formatMoney, useI18n } from '../i18n';
import { seatName } from './venue-map';
import { Title } from '../shared';

interface Props {
  payment: Payment;
  reservation: Reservation;
  concert: Concert | undefined;
  onDone: () => void;
  /** In a sale's line a payment ends the token: another seat means joining that line again. */
  onJoinSaleAgain?: (() => void) | undefined;
  busy?: boolean;
}

export function Confirmation({ payment, reservation, concert, onDone, onJoinSaleAgain, busy = false }: Props) {
  const { lang, t } = useI18n();
  return (
    <section class="card done" aria-labelledby="done-title">
      <Title id="done-title">
        <span aria-hidden="true">✓ </span>
        {t.doneTitle}
      </Title>
      <p>{t.doneText}</p>
      <dl class="facts">
        {concert && (
          <div>
            <dt>{t.concertLabel}</dt>
            <dd>
              {concert.title} · {concert.venue}
            </dd>
          </div>
        )}
        <div>
          <dt>{t.dateLabel}</dt>
          <dd data-testid="done-date">{formatDay(lang, reservation.date)}</dd>
        </div>
        <div>
          <dt>{t.seatLabel}</dt>
          <dd data-testid="done-seat">{concert?.layout ? seatName(t, concert.layout, reservation.seatNumber) : reservation.seatNumber}</dd>
        </div>
        <div>
          <dt>{t.amountPaid}</dt>
          <dd data-testid="done-amount">{formatMoney(lang, payment.amount)}</dd>
        </div>
        <div class="span-all">
          <dt>{t.paymentId}</dt>
          <dd class="mono" data-testid="done-payment">
            {payment.paymentId}
          </dd>
        </div>
        <div>
          <dt>{t.balanceLeft}</dt>
          <dd>{formatMoney(lang, payment.balance)}</dd>
        </div>
      </dl>
      <div class="actions">
        <button type="button" class="primary" onClick={onDone}>
          {t.buyAnother}
        </button>
        {onJoinSaleAgain && (
          <button type="button" disabled={busy} onClick={onJoinSaleAgain}>
            {t.joinSaleAgain}
          </button>
        )}
      </div>
    </section>
  );
}
