// The join's user lookup batches the lookups of one event-loop turn into one statement, and answers each
// caller for its own id: known, unknown, differently cased or malformed.
import { randomUUID } from 'node:crypto';
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchedUserExists } from '../../src/users/user.repository.js';
import { createTestApp, createUser, type TestApp } from '../helpers/test-app.js';

describe('batched user lookup', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('answers 40 lookups asked at once, each for its own id, with one statement', async () => {
    const known = await Promise.all(Array.from({ length: 10 }, () => createUser(t.app)));
    let statements = 0;
    const counting: KyselyPlugin = {
      transformQuery: (args) => {
        statements++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const exists = batchedUserExists(t.db.withPlugin(counting));
    const asks = [
      ...known.map((id) => ({ id, expected: true })),
      ...known.slice(0, 5).map((id) => ({ id: id.toUpperCase(), expected: true })),
      ...known.slice(0, 5).map((id) => ({ id, expected: true })),
      ...Array.from({ length: 15 }, () => ({ id: randomUUID(), expected: false })),
      ...known.slice(0, 5).map((id) => ({ id: `urn:uuid:${id}`, expected: false })),
    ];
    const answers = await Promise.all(asks.map((a) => exists(a.id)));
    expect(answers).toEqual(asks.map((a) => a.expected));
    expect(statements).toBe(1);
    // A later turn is a new batch.
    expect(await exists(known[0]!)).toBe(true);
    expect(statements).toBe(2);
  });
});
