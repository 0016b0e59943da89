// The bot check (API.md, "Bot check"). When the server asks for a proof of work, the page fetches a
// challenge and solves it in a worker while the fan reads, so pressing Join rarely waits for it. A
// proof is good for one join: taking it starts the next one, and so does every join attempt.
import { useEffect } from 'preact/hooks';
import { ApiError, fanApi, type PowChallenge } from '../api';
import type { PowSolution } from './pow-worker';

type Prepared =
  | { kind: 'off' }
  | { kind: 'proof'; proof: string; usableUntil: number }
  /** No challenge or no solution this time (network, worker); the join goes without and the server decides. */
  | { kind: 'failed' };

interface Pending {
  promise: Promise<Prepared>;
  settled: Prepared | null;
}

const maxExpiryMarginMs = 20_000;
const skewedClockTrialMs = 60_000;
const refreshCheckMs = 10_000;

let pending: Pending | null = null;
/** The server answered 404 for a challenge: it runs without the bot check, so stop asking. */
let serverSkipsCheck = false;

/** Starts fetching and solving the next challenge, unless one is on its way or ready. */
export function prepareProof(): void {
  if (serverSkipsCheck || pending) return;
  const entry: Pending = { promise: solveNext(), settled: null };
  void entry.promise.then((prepared) => {
    entry.settled = prepared;
    if (prepared.kind === 'off') serverSkipsCheck = true;
  });
  pending = entry;
}

/**
 * The proof for one join, or undefined when the server asks for none. Waits for the worker if it is
 * still busy, calling `onWait` first so the page can say so. Nobody else gets the same proof.
 */
export async function takeProof(onWait: () => void): Promise<string | undefined> {
  if (serverSkipsCheck) return undefined;
  if (pending?.settled && !isUsable(pending.settled, Date.now())) pending = null;
  prepareProof();
  const taken = pending;
  pending = null;
  if (!taken) return undefined;
  if (!taken.settled) onWait();
  const prepared = await taken.promise;
  return prepared.kind === 'proof' ? prepared.proof : undefined;
}

/** The server refused a proof: ask it again whether it wants one, whatever it said before. */
export function forgetProofs(): void {
  serverSkipsCheck = false;
  pending = null;
}

/** Keeps a proof ready (and not expired) while the fan is on a screen that leads to joining. */
export function useProofReady(active: boolean): void {
  useEffect(() => {
    if (!active) return;
    prepareProof();
    const timer = setInterval(() => {
      if (pending?.settled && !isUsable(pending.settled, Date.now() + refreshCheckMs)) {
        pending = null;
        prepareProof();
      }
    }, refreshCheckMs);
    return () => clearInterval(timer);
  }, [active]);
}

function isUsable(prepared: Prepared, at: number): boolean {
  if (prepared.kind === 'failed') return false;
  return prepared.kind === 'off' || prepared.usableUntil > at;
}

async function solveNext(): Promise<Prepared> {
  let challenge: PowChallenge;
  try {
    challenge = await fanApi.challenge();
  } catch (failure) {
    return failure instanceof ApiError && failure.status === 404 ? { kind: 'off' } : { kind: 'failed' };
  }
  const fetchedAt = Date.now();
  try {
    const { number } = await solveInWorker(challenge);
    const { algorithm, challenge: hash, salt, signature } = challenge;
    const proof = btoa(JSON.stringify({ algorithm, challenge: hash, number, salt, signature }));
    return { kind: 'proof', proof, usableUntil: usableUntil(challenge, fetchedAt) };
  } catch {
    return { kind: 'failed' };
  }
}

/**
 * Until when a proof is worth sending. ALTCHA puts the expiry in the salt (`<hex>?expires=…&`, Unix
 * seconds on the server's clock); it is kept a margin short of that, for the join request to arrive.
 * A challenge that looks expired on arrival means this device's clock is off, not that the proof is:
 * it is then tried for a minute, and a refusal brings a fresh one.
 */
function usableUntil(challenge: PowChallenge, fetchedAt: number): number {
  const query = challenge.salt.split('?')[1];
  const seconds = query ? Number(new URLSearchParams(query).get('expires')) : NaN;
  if (!(seconds > 0)) return Infinity;
  const lifetime = seconds * 1000 - fetchedAt;
  return lifetime > 0 ? fetchedAt + lifetime - Math.min(maxExpiryMarginMs, lifetime / 3) : fetchedAt + skewedClockTrialMs;
}

/** One worker per challenge, ended when it answers, so nothing keeps running after. */
function solveInWorker(challenge: PowChallenge): Promise<PowSolution> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./pow-worker.ts', import.meta.url), { type: 'module' });
    worker.addEventListener('message', (event: MessageEvent<PowSolution | null>) => {
      worker.terminate();
      if (event.data) resolve(event.data);
      else reject(new Error('the challenge has no solution in its range'));
    });
    worker.addEventListener('error', (event) => {
      worker.terminate();
      reject(new Error(`the bot-check worker failed: ${event.message}`));
    });
    worker.postMessage(challenge);
  });
}
