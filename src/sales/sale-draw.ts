// The draw, as pure functions anyone can re-run: a secret 32-byte seed, its public SHA-256 commitment,
// and the order of the pre-queue's entries, ascending by the hex HMAC-SHA256 keyed with the seed's
// bytes over each entry id's 36-character text. The fan page recomputes exactly this with Web Crypto.
import { createHash, createHmac, randomBytes } from 'node:crypto';

export function newSeed(): string {
  return randomBytes(32).toString('hex');
}

export function commitmentOf(seedHex: string): string {
  return createHash('sha256').update(Buffer.from(seedHex, 'hex')).digest('hex');
}

export function drawKey(seedHex: string, entryId: string): string {
  return createHmac('sha256', Buffer.from(seedHex, 'hex')).update(entryId, 'utf8').digest('hex');
}

/** The entries in drawn order: place 1 first. */
export function drawOrder(seedHex: string, entryIds: readonly string[]): string[] {
  const keyed = entryIds.map((entryId) => ({ entryId, key: drawKey(seedHex, entryId) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.entryId);
}
