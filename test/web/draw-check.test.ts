// The fan page's draw check (web/src/fan/draw-check.ts, Web Crypto) against an independent
// computation with node:crypto, written here from the contract's words rather than the server's code.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDraw, drawOrder, hexToBytes, bytesToHex, sha256Hex } from '../../web/src/fan/draw-check.js';

/** Ascending by hex HMAC-SHA256 keyed with the seed's bytes over the entry id's text. */
function nodeOrder(seedHex: string, entries: string[]): string[] {
  const key = Buffer.from(seedHex, 'hex');
  return entries
    .map((entryId) => ({ entryId, mac: createHmac('sha256', key).update(entryId, 'utf8').digest('hex') }))
    .sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0))
    .map((e) => e.entryId);
}

function newDraw(count: number) {
  const seed = randomBytes(32).toString('hex');
  const commitment = createHash('sha256').update(Buffer.from(seed, 'hex')).digest('hex');
  const entries = Array.from({ length: count }, () => randomUUID());
  return { seed, commitment, entries };
}

describe('the draw check', () => {
  it('converts hex to bytes and back, and hashes the bytes rather than the text', async () => {
    const seed = randomBytes(32).toString('hex');
    expect(bytesToHex(hexToBytes(seed))).toBe(seed);
    expect(await sha256Hex(hexToBytes(seed))).toBe(createHash('sha256').update(Buffer.from(seed, 'hex')).digest('hex'));
    expect(await sha256Hex(hexToBytes(seed))).not.toBe(createHash('sha256').update(seed).digest('hex'));
    expect(() => hexToBytes('abc')).toThrow();
    expect(() => hexToBytes('zz')).toThrow();
  });

  it('orders the entries exactly as an HMAC over node:crypto does', async () => {
    const { seed, entries } = newDraw(500);
    const expected = nodeOrder(seed, entries);
    expect(await drawOrder(seed, entries)).toEqual(expected);
    // The order is not simply the arrival order, nor the ids sorted.
    expect(expected).not.toEqual(entries);
    expect(expected).not.toEqual([...entries].sort());
  });

  it('orders more entries than one slice of signatures', async () => {
    const { seed, entries } = newDraw(4321);
    expect(await drawOrder(seed, entries)).toEqual(nodeOrder(seed, entries));
  });

  it('confirms a fan whose drawRank and commitment are right', async () => {
    const draw = newDraw(50);
    const order = nodeOrder(draw.seed, draw.entries);
    for (const place of [1, 17, 50]) {
      const entryId = order[place - 1]!;
      const result = await checkDraw(draw, { entryId, drawRank: place, commitmentSeenBefore: draw.commitment });
      expect(result).toEqual({
        recomputedCommitment: draw.commitment,
        commitmentMatches: true,
        rank: place,
        rankMatches: true,
        entryCount: 50,
      });
    }
  });

  it('says so when the service claims another place than the draw gives', async () => {
    const draw = newDraw(20);
    const order = nodeOrder(draw.seed, draw.entries);
    const result = await checkDraw(draw, { entryId: order[4]!, drawRank: 2 });
    expect(result.rank).toBe(5);
    expect(result.rankMatches).toBe(false);
    expect(result.commitmentMatches).toBe(true);
  });

  it('says so when the seed does not match the commitment, or the commitment seen before the draw', async () => {
    const draw = newDraw(10);
    const entryId = nodeOrder(draw.seed, draw.entries)[0]!;
    const otherSeed = randomBytes(32).toString('hex');
    const swapped = await checkDraw({ ...draw, seed: otherSeed }, { entryId, drawRank: 1 });
    expect(swapped.commitmentMatches).toBe(false);
    // A service that changed seed and commitment together is caught by the commitment seen earlier.
    const recommitted = {
      ...draw,
      seed: otherSeed,
      commitment: createHash('sha256').update(Buffer.from(otherSeed, 'hex')).digest('hex'),
    };
    expect((await checkDraw(recommitted, { entryId, drawRank: 1 })).commitmentMatches).toBe(true);
    expect((await checkDraw(recommitted, { entryId, drawRank: 1, commitmentSeenBefore: draw.commitment })).commitmentMatches).toBe(false);
  });

  it('finds no place for an entry that was not in the draw', async () => {
    const draw = newDraw(10);
    const result = await checkDraw(draw, { entryId: randomUUID(), drawRank: null });
    expect(result.rank).toBeNull();
    expect(result.rankMatches).toBe(false);
  });
});
