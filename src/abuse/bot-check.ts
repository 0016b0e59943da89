// The bot check: a proof of work in ALTCHA's format. A challenge costs the server one HMAC; solving it
// costs the client about half of `maxnumber` hashes, which a fan's browser does while the fan reads
// the page and a script joining a million times pays a million times. Each solved challenge is
// spent once: its challenge hash is remembered until the challenge expires, in Redis when
// configured, so a proof cannot be replayed on any instance.
import { createHmac } from 'node:crypto';
import { createChallenge, verifySolution } from 'altcha-lib/v1';
import type { RedisClient } from '../redis/redis-client.js';
import { DomainError } from '../errors.js';

export interface BotCheckSettings {
  /** ALTCHA's maxnumber. */
  cost: number;
  expiresSeconds: number;
}

/** Remembers spent challenges until they expire; `spend` is false if it was already spent. */
export interface SpentChallenges {
  spend(challenge: string, expiresAtMs: number): Promise<boolean>;
}

export class MemorySpentChallenges implements SpentChallenges {
  private readonly spent = new Map<string, number>();
  private nextPrune = 0;

  async spend(challenge: string, expiresAtMs: number): Promise<boolean> {
    const now = Date.now();
    if (now >= this.nextPrune) {
      for (const [key, until] of this.spent) if (until <= now) this.spent.delete(key);
      this.nextPrune = now + 10_000;
    }
    if (this.spent.has(challenge)) return false;
    this.spent.set(challenge, expiresAtMs);
    return true;
  }
}

export class RedisSpentChallenges implements SpentChallenges {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async spend(challenge: string, expiresAtMs: number): Promise<boolean> {
    // One key per challenge, gone when the challenge could no longer be used anyway.
    const set = await this.redis.set(`${this.prefix}pow:${challenge}`, '1', 'PXAT', Math.max(expiresAtMs, Date.now() + 1_000), 'NX');
    return set === 'OK';
  }
}

/** What GET /api/v1/challenge answers: ALTCHA's challenge format. */
export interface Challenge {
  algorithm: string;
  challenge: string;
  maxnumber?: number;
  salt: string;
  signature: string;
}

export interface BotCheck {
  challenge(): Promise<Challenge>;
  /** Resolves when `proof` solves a challenge of ours that is unexpired and unspent, and spends it; 403 otherwise. */
  redeem(proof: string | undefined): Promise<void>;
}

/** Longer than any proof of ours (about 250 characters). */
const MAX_PROOF_LENGTH = 2_048;
const HEX64 = /^[0-9a-f]{64}$/;

function failed(message: string): DomainError {
  return new DomainError('BOT_CHECK_FAILED', message);
}

interface Solved {
  challenge: string;
  expiresAtMs: number;
}

/** The parts of a proof verifySolution does not look at for us: it must be ours, in its one form. */
function parseProof(proof: string): Solved | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(proof, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { algorithm, challenge, number, salt, signature } = payload as Record<string, unknown>;
  if (algorithm !== 'SHA-256' || typeof challenge !== 'string' || !HEX64.test(challenge) || typeof signature !== 'string') return undefined;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0 || typeof salt !== 'string') return undefined;
  // Our challenges always expire: one without an expiry was not made here.
  const expires = Number(new URLSearchParams(salt.split('?')[1] ?? '').get('expires'));
  if (!Number.isSafeInteger(expires) || expires <= 0) return undefined;
  return { challenge, expiresAtMs: expires * 1000 };
}

export function createBotCheck(settings: BotCheckSettings, tokenSecret: string, spent: SpentChallenges): BotCheck {
  // Its own key, derived from the token secret that every instance already shares.
  const hmacKey = createHmac('sha256', tokenSecret).update('boxoffice bot check').digest('base64url');
  return {
    challenge: () =>
      createChallenge({
        algorithm: 'SHA-256',
        hmacKey,
        maxnumber: settings.cost,
        expires: new Date(Date.now() + settings.expiresSeconds * 1000),
      }),

    async redeem(proof) {
      if (!proof) throw failed('token issue needs a solved bot-check challenge in proof (GET /api/v1/challenge)');
      if (proof.length > MAX_PROOF_LENGTH) throw failed('the proof is too long');
      const solved = parseProof(proof);
      if (!solved) throw failed('the proof is not a solved challenge of this service');
      let valid = false;
      try {
        valid = await verifySolution(proof, hmacKey, true);
      } catch {
        valid = false;
      }
      if (!valid) throw failed('the proof is wrong or its challenge has expired; solve a new one');
      if (!(await spent.spend(solved.challenge, solved.expiresAtMs))) throw failed('this proof was already used; solve a new challenge');
    },
  };
}
