// The bot check's solver, off the main thread so the page stays responsive while it runs: ALTCHA's own
// search for the number whose hash with the salt is the challenge (v1: challenge = hex(sha256(salt +
// number)), number from 0 to maxnumber). One message in ({ challenge, salt, algorithm, maxnumber }),
// one out ({ number, took }, or null when no number in range fits).
import { solveChallenge } from 'altcha-lib/v1';
import type { PowChallenge } from '../api';

export interface PowSolution {
  number: number;
  /** Milliseconds the search took inside the worker. */
  took: number;
}

// The DOM typings describe a window; a dedicated worker's scope posts without a target origin.
const scope = self as unknown as {
  addEventListener(type: 'message', listener: (event: MessageEvent<PowChallenge>) => void): void;
  postMessage(message: PowSolution | null): void;
};

scope.addEventListener('message', ({ data }) => {
  const { promise } = solveChallenge(data.challenge, data.salt, data.algorithm, data.maxnumber ?? 1e6);
  void promise.then((solution) => scope.postMessage(solution));
});
