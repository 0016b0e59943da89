// A sale's final screen: it sold out (from the line's status, or a refused join) or it closed.
// Nothing more can be done in that line, so the only way on is back to the first page.
import type { Sale } from '../api';
import { useI18n } from '../i18n';
import { Title } from '../shared';

export function SaleEnded({ kind, sale, onDone }: { kind: 'soldout' | 'closed'; sale: Sale | undefined; onDone: () => void }) {
  const { t } = useI18n();
  const title = sale?.title ?? t.thisSale;
  const soldOut = kind === 'soldout';
  return (
    <section
      class={soldOut ? 'card ended sold-out' : 'card ended'}
      aria-labelledby={soldOut ? 'soldout-title' : 'closed-title'}
      data-testid={soldOut ? 'sold-out' : 'sale-closed'}
    >
      <Title id={soldOut ? 'soldout-title' : 'closed-title'}>{soldOut ? t.soldOutTitle : t.closedTitle}</Title>
      {sale && <p class="muted">{`${sale.title} · ${sale.venue}`}</p>}
      <p>{soldOut ? t.soldOutText(title) : t.closedText(title)}</p>
      <div class="actions">
        <button type="button" class="primary" onClick={onDone}>
          {t.startOver}
        </button>
      </div>
    </section>
  );
}
