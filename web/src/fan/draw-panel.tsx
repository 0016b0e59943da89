// After the open: the place the draw gave this fan and a button that re-runs the whole draw in the
// browser (draw-check.ts) and says, in words, whether the seed keeps the promise of the commitment and
// whether the recomputed place is the one the service claims.
import { useState } from 'preact/hooks';
import { fanApi } from '../api';
import { errorText, formatNumber, useI18n } from '../i18n';
import { ErrorLine } from '../shared';
import { checkDraw, type DrawCheckResult } from './draw-check';

interface Props {
  saleId: string;
  entryId: string;
  drawRank: number;
  /** The commitment shown to this fan before the draw, when the page knew it. */
  commitmentSeenBefore: string | undefined;
  /** A card of its own (beside another step) instead of a block inside the waiting room's card. */
  card?: boolean;
}

export function DrawPanel({ saleId, entryId, drawRank, commitmentSeenBefore, card = false }: Props) {
  const { lang, t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<DrawCheckResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const n = (value: number) => formatNumber(lang, value);

  const check = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const draw = await fanApi.draw(saleId);
      if (!globalThis.crypto?.subtle) {
        setError(t.checkUnavailable);
        return;
      }
      setResult(await checkDraw(draw, { entryId, drawRank, commitmentSeenBefore }));
    } catch (failure) {
      setError(errorText(t, failure));
    } finally {
      setBusy(false);
    }
  };

  const verdict = result ? (result.commitmentMatches && result.rankMatches ? 'match' : 'mismatch') : undefined;

  const Box = card ? 'section' : 'div';
  return (
    <Box class={card ? 'card after draw' : 'block draw'} role={card ? undefined : 'group'} aria-labelledby="draw-title" data-testid="draw">
      <h2 id="draw-title">{t.drawTitle}</h2>
      <p data-testid="draw-rank" data-draw-rank={drawRank}>
        {t.drawGave(n(drawRank))}
      </p>
      <button type="button" disabled={busy} onClick={check}>
        {busy ? t.checkingDraw : t.checkDraw}
      </button>
      <div role="status" class="draw-result" data-testid="draw-check-result" data-verdict={verdict}>
        {result && (
          <ul class="checks">
            <li class={result.commitmentMatches ? 'check ok' : 'check bad'} data-testid="draw-check-commitment" data-ok={String(result.commitmentMatches)}>
              <span aria-hidden="true">{result.commitmentMatches ? '✓ ' : '✗ '}</span>
              {result.commitmentMatches ? t.checkCommitmentOk : t.checkCommitmentBad}
            </li>
            <li class={result.rankMatches ? 'check ok' : 'check bad'} data-testid="draw-check-rank" data-ok={String(result.rankMatches)}>
              <span aria-hidden="true">{result.rankMatches ? '✓ ' : '✗ '}</span>
              {result.rank === null
                ? t.checkNotIn(n(result.entryCount))
                : result.rankMatches
                  ? t.checkRankOk(n(result.rank), n(result.entryCount))
                  : t.checkRankBad(n(result.rank), n(drawRank), n(result.entryCount))}
            </li>
          </ul>
        )}
      </div>
      <ErrorLine text={error} />
    </Box>
  );
}
