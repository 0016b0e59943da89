// Taking a place in line with what the server may ask for besides the user id: a bot-check proof and
// the ticket seller's assertion (API.md, "Fan identity, abuse limits and unavailability").
import { ApiError, fanApi, type IssuedToken } from '../api';
import { forgetAssertion, loadAssertion } from './assertion';
import { forgetProofs, prepareProof, takeProof } from './bot-check';

/**
 * Joins the general line, or the line of `saleId`. `onChecking(true)` when the join has to wait for the
 * bot check (normally it was solved while the fan read), `onChecking(false)` when it goes on. A refused
 * proof is retried once with a fresh one; every attempt, refused or not, starts the next proof.
 */
export async function joinLine(userId: string, saleId: string | undefined, onChecking: (checking: boolean) => void): Promise<IssuedToken> {
  for (let attempt = 1; ; attempt++) {
    let waited = false;
    const proof = await takeProof(() => {
      waited = true;
      onChecking(true);
    });
    if (waited) onChecking(false);
    try {
      return await fanApi.issueToken(userId, saleId, { proof, assertion: loadAssertion() });
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      if (failure.code === 'BOT_CHECK_FAILED' && attempt === 1) {
        forgetProofs();
        continue;
      }
      // Only a new assertion from the seller's site helps; the message says so.
      if (failure.code === 'INVALID_USER_ASSERTION') forgetAssertion();
      throw failure;
    } finally {
      prepareProof();
    }
  }
}
