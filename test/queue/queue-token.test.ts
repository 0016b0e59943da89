import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signToken, type TokenClaims, verifyToken } from '../../src/queue/queue-token.js';

const SECRET = 'a-secret-of-thirty-two-characters!';

// Tokens as this format has always spelled them: an instance of a new build must verify the tokens an
// old one issued during a rolling deploy, and sign the same claims to the same string (a rejoin gets
// its token back whichever instance answers).
const SPELLED: Array<[TokenClaims, string]> = [
  [
    { userId: '6f1c3b0e-8a47-4c55-9a51-0a4f1f0c2b7d', tokenId: '0b9e2f4a-1c3d-4e5f-8a7b-9c0d1e2f3a4b', seq: 1234567, epoch: '0123456789abcdef' },
    'bxw7DopHTFWaUQpPHwwrfQueL0ocPU5finucDR4vOksAAAAAABLWhwEjRWeJq83vAAAAAAAAAAAAAAAAAAAAAPLaVU2IwXtZ2ADTAOJuA9TLiptwCMnUzLmuo2wwPoB-',
  ],
  [
    {
      userId: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
      tokenId: '00000000-0000-4000-8000-000000000000',
      seq: 0,
      epoch: 'fedcba9876543210',
      saleId: '12345678-9abc-4def-8123-456789abcdef',
    },
    '________T_-__________wAAAAAAAEAAgAAAAAAAAAAAAAAAAAAAAP7cuph2VDIQEjRWeJq8Te-BI0VniavN77vjs9X4ujaxD2HPPzNzn2yAr-NqKeo61yK5SZJlvB-o',
  ],
  [
    {
      userId: '6f1c3b0e-8a47-4c55-9a51-0a4f1f0c2b7d',
      tokenId: '0b9e2f4a-1c3d-4e5f-8a7b-9c0d1e2f3a4b',
      seq: Number.MAX_SAFE_INTEGER,
      epoch: '0123456789abcdef',
    },
    'bxw7DopHTFWaUQpPHwwrfQueL0ocPU5finucDR4vOksAH________wEjRWeJq83vAAAAAAAAAAAAAAAAAAAAAPOF1CoHT9T8d3wvFw7BlLXDrKwW5-CIhE9KTyVbbtnc',
  ],
];

describe('queue token', () => {
  it('spells the same claims as it always has, and reads them back', () => {
    for (const [claims, token] of SPELLED) {
      expect(signToken(claims, SECRET)).toBe(token);
      expect(verifyToken(token, SECRET)).toEqual(claims);
    }
  });

  it('reads back whatever it signed, one token after another', () => {
    const seqs = [0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
    const signed = seqs.map((seq, i) => {
      const claims: TokenClaims = { userId: randomUUID(), tokenId: randomUUID(), seq, epoch: 'a1b2c3d4e5f60718', ...(i % 2 ? { saleId: randomUUID() } : {}) };
      return { claims, token: signToken(claims, SECRET) };
    });
    // Read after all were signed: no token may carry anything of the one signed before it.
    for (const { claims, token } of signed) expect(verifyToken(token, SECRET)).toEqual(claims);
  });

  it('refuses to sign claims it cannot spell', () => {
    const good: TokenClaims = { userId: randomUUID(), tokenId: randomUUID(), seq: 1, epoch: '0123456789abcdef' };
    const bad: Array<Partial<TokenClaims>> = [
      { userId: 'not-a-uuid' },
      { userId: good.userId.toUpperCase() },
      { tokenId: `${good.tokenId}0` },
      { tokenId: good.tokenId.replaceAll('-', '') },
      { saleId: 'zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz' },
      { epoch: '0123456789ABCDEF' },
      { epoch: '0123456789abcde' },
      { seq: -1 },
      { seq: 1.5 },
      { seq: 2 ** 53 },
    ];
    for (const change of bad) expect(() => signToken({ ...good, ...change }, SECRET), JSON.stringify(change)).toThrow();
    // A refused signing leaves nothing behind for the next one.
    expect(verifyToken(signToken(good, SECRET), SECRET)).toEqual(good);
  });

  it('reads nothing from a token that was altered or signed with another secret', () => {
    const [claims, token] = SPELLED[0]!;
    expect(verifyToken(token, 'another-secret-of-thirty-two-chars')).toBeNull();
    expect(verifyToken(signToken(claims, 'another-secret-of-thirty-two-chars'), SECRET)).toBeNull();
    for (const at of [0, 40, 85, 127]) {
      const flipped = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
      expect(verifyToken(flipped, SECRET), `changed at ${at}`).toBeNull();
    }
    expect(verifyToken(`${token}A`, SECRET)).toBeNull();
    expect(verifyToken(token.slice(1), SECRET)).toBeNull();
  });
});
