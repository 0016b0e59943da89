// Queue tokens: a small signed claim naming one user and one place in line. The claim is readable
// but tamper-proof (HMAC-SHA256); the token's state lives in the queue store, never in the token.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  userId: string;
  tokenId: string;
  /** Arrival number in the line: lets a poll compute its position without looking the token up. */
  seq: number;
  /** The line's incarnation it was issued in: a token the store does not know was lost with its line if this differs. */
  epoch: string;
  /** The sale whose line the token stands in; absent for the general line. */
  saleId?: string;
}

function mac(body: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** Deterministic: the same claims always sign to the same string, so a rejoin returns the same token. */
export function signToken(claims: TokenClaims, secret: string): string {
  const parts = [claims.userId, claims.tokenId, claims.seq, claims.epoch, ...(claims.saleId ? [claims.saleId] : [])];
  const body = Buffer.from(parts.join('.')).toString('base64url');
  return `${body}.${mac(body, secret).toString('base64url')}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The claims of a genuine token, or null for anything malformed or forged. */
export function verifyToken(token: string, secret: string): TokenClaims | null {
  if (token.length > 512) return null;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(body, secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const [userId, tokenId, seqText, epoch = '', saleId, ...rest] = Buffer.from(body, 'base64url').toString('utf8').split('.');
  const seq = Number(seqText);
  // seq is 0 for a place in a sale's pre-queue (the draw gives it its place later).
  if (rest.length > 0 || !userId || !UUID.test(userId) || !tokenId || !Number.isSafeInteger(seq) || seq < 0) return null;
  if (saleId !== undefined && !UUID.test(saleId)) return null;
  return saleId ? { userId, tokenId, seq, epoch, saleId } : { userId, tokenId, seq, epoch };
}
