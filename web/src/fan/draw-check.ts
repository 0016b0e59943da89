// Re-runs a sale's draw in the browser with Web Crypto, so a fan need not trust the service's word:
// SHA-256 of the seed's bytes must be the commitment published before anyone joined, and the order is
// ascending by the hex HMAC-SHA256 keyed with the seed's bytes over each entry id's 36-character text.
// Self-contained (no imports) so Node's tests can load it as it is.

export interface DrawInput {
  /** Hex of the secret 32-byte seed, published at the open. */
  seed: string;
  /** Hex SHA-256 of the seed's bytes, as the draw endpoint states it. */
  commitment: string;
  /** The entry ids that took part, in any order. */
  entries: readonly string[];
}

export interface FanClaim {
  /** This fan's place-in-line id. */
  entryId: string;
  /** The place the service says the draw gave it (1-based), if it said one. */
  drawRank: number | null | undefined;
  /** The commitment this page saw before the draw, if it saw one. */
  commitmentSeenBefore?: string | undefined;
}

export interface DrawCheckResult {
  /** SHA-256 of the seed, recomputed here. */
  recomputedCommitment: string;
  /** The recomputed commitment equals the draw's, and the one seen before the draw when there was one. */
  commitmentMatches: boolean;
  /** The fan's place in the recomputed order (1-based), or null when their entry is not in the draw. */
  rank: number | null;
  /** The recomputed place equals the service's drawRank. */
  rankMatches: boolean;
  /** How many entries took part. */
  entryCount: number;
}

function subtle() {
  const api = globalThis.crypto?.subtle;
  // Browsers offer it only in a secure context (https or localhost).
  if (!api) throw new Error('Web Crypto is not available here');
  return api;
}

export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error('not a hex string');
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export function bytesToHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let hex = '';
  for (const byte of view) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(await subtle().digest('SHA-256', bytes));
}

/** The hex HMAC-SHA256 of each entry id, keyed with the seed's bytes, in the entries' order. */
export async function drawKeys(seedHex: string, entries: readonly string[]): Promise<string[]> {
  const key = await subtle().importKey('raw', hexToBytes(seedHex), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const encoder = new TextEncoder();
  const keys: string[] = [];
  // In slices, so a draw of many entries neither holds a million promises nor freezes the page.
  const slice = 2000;
  for (let start = 0; start < entries.length; start += slice) {
    const part = entries.slice(start, start + slice);
    const signed = await Promise.all(part.map((entryId) => subtle().sign('HMAC', key, encoder.encode(entryId))));
    for (const signature of signed) keys.push(bytesToHex(signature));
  }
  return keys;
}

/** The entries in drawn order, place 1 first (ties, which HMAC makes unthinkable, keep input order). */
export async function drawOrder(seedHex: string, entries: readonly string[]): Promise<string[]> {
  const keys = await drawKeys(seedHex, entries);
  return entries
    .map((entryId, index) => ({ entryId, key: keys[index]!, index }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index))
    .map((entry) => entry.entryId);
}

/** Checks the commitment and the fan's place against an independent recomputation of the draw. */
export async function checkDraw(draw: DrawInput, claim: FanClaim): Promise<DrawCheckResult> {
  const recomputedCommitment = await sha256Hex(hexToBytes(draw.seed));
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const commitmentMatches =
    same(recomputedCommitment, draw.commitment) && (claim.commitmentSeenBefore === undefined || same(recomputedCommitment, claim.commitmentSeenBefore));
  const order = await drawOrder(draw.seed, draw.entries);
  const index = order.indexOf(claim.entryId);
  const rank = index === -1 ? null : index + 1;
  return {
    recomputedCommitment,
    commitmentMatches,
    rank,
    rankMatches: rank !== null && rank === claim.drawRank,
    entryCount: draw.entries.length,
  };
}
