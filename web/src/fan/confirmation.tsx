// The end of the journey: what was bought and the payment id to show at the door.
import type { Concert, Payment, Reservation } from '../api';
import { formatDay, formatMoney, useI18n } from '../i18n';
import { Title } from '../shared';

interface Props {
  payment: Payment;
  reservation: Reservation;
  concert: Concert | undefined;
  onDone: () => void;
}

export function Confirmation({ payment, reservation, concert, onDone }: Props) {
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
          <dd data-testid="done-seat">{reservation.seatNumber}</dd>
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
      <button type="button" class="primary" onClick={onDone}>
        {t.buyAnother}
      </button>
    </section>
  );
}
