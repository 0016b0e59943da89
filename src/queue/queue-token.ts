// Queue tokens: a small signed claim naming one user and one place in line. The claim is readable
// but tamper-proof (HMAC-SHA256); the token's state lives in the queue store, never in the token.
//
// A token has exactly one spelling: 96 bytes (64 of claims, 32 of MAC) in base64url, which is 128
// characters with no padding and no spare bits, so no other string decodes to the same token.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  userId: string;
  tokenId: string;
  /** Arrival number in the line: lets a poll compute its position without looking the token up. */
  seq: number;
  /** The line's incarnation it was issued in (16 hex digits): a token the store does not know was lost with its line if this differs. */
  epoch: string;
  /** The sale whose line the token stands in; absent for the general line. */
  saleId?: string;
}

/** userId 16 · tokenId 16 · seq 8 · epoch 8 · saleId 16 (zeros: the general line) */
const CLAIMS_BYTES = 64;
const MAC_BYTES = 32;
export const TOKEN_LENGTH = ((CLAIMS_BYTES + MAC_BYTES) / 3) * 4;
const TOKEN = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_LENGTH}}$`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EPOCH = /^[0-9a-f]{16}$/;
const NO_SALE = Buffer.alloc(16);

function mac(claims: Buffer, secret: string): Buffer {
  return createHmac('sha256', secret).update(claims).digest();
}

/** The value of each lower-case hex digit's ASCII code. */
const HEX_VALUE = Int8Array.from({ length: 128 }, (_, c) => (c >= 97 ? c - 87 : c - 48));

/**
 * Writes the bytes spelled by `text` into `out` at `offset`, without a Buffer of its own. The text has
 * matched UUID or EPOCH already: lower-case hex digits, any dashes between pairs of them.
 */
function writeHex(text: string, out: Buffer, offset: number): void {
  let at = offset;
  for (let i = 0; i < text.length; i += 2) {
    if (text.charCodeAt(i) === 45) i++;
    out[at++] = HEX_VALUE[text.charCodeAt(i)]! * 16 + HEX_VALUE[text.charCodeAt(i + 1)]!;
  }
}

function writeUuid(uuid: string, what: string, out: Buffer, offset: number): void {
  if (!UUID.test(uuid)) throw new Error(`a queue token's ${what} must be a lower-case uuid, got "${uuid}"`);
  writeHex(uuid, out, offset);
}

/** The two hex digits of each byte value, as ASCII codes: byte b's at 2b and 2b + 1. */
const HEX_DIGITS = Buffer.from(Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0')).join(''), 'latin1');
/** Where a uuid's text is put together; dashes stay where they are. */
const uuidScratch = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
/** Where each of the 16 bytes' two digits go in the text. */
const UUID_OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * The canonical text of 16 bytes, as one flat string: a verified token's claims are kept (verified-token
 * cache) and a string spliced from slices of another would keep a chain of pieces per uuid, several
 * times the size, and more garbage per verification.
 */
function uuidText(bytes: Buffer): string {
  for (let i = 0; i < 16; i++) {
    const at = UUID_OFFSETS[i]!;
    const digits = bytes[i]! * 2;
    uuidScratch[at] = HEX_DIGITS[digits]!;
    uuidScratch[at + 1] = HEX_DIGITS[digits + 1]!;
  }
  return uuidScratch.toString('latin1');
}

/**
 * Where a token is put together: signing is synchronous, so one buffer serves every call, and a token
 * costs the MAC's own buffer and its text, nothing more (token issue signs once per request).
 */
const tokenScratch = Buffer.alloc(CLAIMS_BYTES + MAC_BYTES);
const claimsScratch = tokenScratch.subarray(0, CLAIMS_BYTES);

/** Deterministic: the same claims always sign to the same string, so a rejoin returns the same token. */
export function signToken(claims: TokenClaims, secret: string): string {
  if (!Number.isSafeInteger(claims.seq) || claims.seq < 0) throw new Error(`a queue token's seq must be a safe integer ≥ 0, got ${claims.seq}`);
  if (!EPOCH.test(claims.epoch)) throw new Error(`a queue token's epoch must be 16 hex digits, got "${claims.epoch}"`);
  const body = claimsScratch;
  writeUuid(claims.userId, 'userId', body, 0);
  writeUuid(claims.tokenId, 'tokenId', body, 16);
  // seq < 2^53: its high 32 bits and its low 32 bits, big-endian.
  body.writeUInt32BE(Math.floor(claims.seq / 2 ** 32), 32);
  body.writeUInt32BE(claims.seq >>> 0, 36);
  writeHex(claims.epoch, body, 40);
  if (claims.saleId) writeUuid(claims.saleId, 'saleId', body, 48);
  else body.fill(0, 48, 64);
  mac(body, secret).copy(tokenScratch, CLAIMS_BYTES);
  return tokenScratch.toString('base64url');
}

/** The claims of a genuine token, or null for anything malformed or forged. */
export function verifyToken(token: string, secret: string): TokenClaims | null {
  if (token.length !== TOKEN_LENGTH || !TOKEN.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  const body = bytes.subarray(0, CLAIMS_BYTES);
  if (!timingSafeEqual(bytes.subarray(CLAIMS_BYTES), mac(body, secret))) return null;
  const seq = Number(body.readBigUInt64BE(32));
  if (!Number.isSafeInteger(seq)) return null;
  const claims: TokenClaims = {
    userId: uuidText(body.subarray(0, 16)),
    tokenId: uuidText(body.subarray(16, 32)),
    seq,
    epoch: body.subarray(40, 48).toString('hex'),
  };
  const sale = body.subarray(48, 64);
  if (!sale.equals(NO_SALE)) claims.saleId = uuidText(sale);
  return claims;
}
