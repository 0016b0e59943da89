// Demo data for a newcomer: a few users with points and one concert with several dates of 50 seats,
// created only on an empty database, so every endpoint can be tried from /docs at once.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { ConcertService } from '../concerts/concert.service.js';
import type { DB } from '../db/schema.js';
import { creditPoints } from '../points/points.repository.js';
import { insertUser } from '../users/user.repository.js';

const DEMO_PREFIX = 'Demo fan ';
const DEMO_USERS = 5;
const DEMO_POINTS = 300_000;
const DAY_MS = 86_400_000;

export interface DemoUser {
  userId: string;
  name: string;
}

export function findDemoUsers(db: Kysely<DB>): Promise<DemoUser[]> {
  return db
    .selectFrom('users')
    .select(['id as userId', 'name'])
    .where('name', 'like', `${DEMO_PREFIX}%`)
    .orderBy('name')
    .execute() as Promise<DemoUser[]>;
}

/** Seeds an empty database; on one that has users it changes nothing. Returns the demo users. */
export async function seedDemo(db: Kysely<DB>, concerts: ConcertService, now = new Date()): Promise<DemoUser[]> {
  const anyUser = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (!anyUser) {
    for (let i = 1; i <= DEMO_USERS; i++) {
      const userId = await insertUser(db, `${DEMO_PREFIX}${i}`);
      await db.transaction().execute((trx) => creditPoints(trx, userId, DEMO_POINTS));
    }
    // Dates a month or so ahead of the first start, so they stay in the future for a while.
    const day = (offset: number) => new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS + offset * DAY_MS);
    await concerts.createConcert({
      title: 'boxoffice Live: Winter Stage',
      venue: 'Olympic Hall, Seoul',
      dates: [30, 31, 37].map((offset, i) => {
        const startsAt = new Date(day(offset).getTime() + 10 * 3_600_000); // 19:00 in Seoul
        return { date: startsAt.toISOString().slice(0, 10), startsAt: startsAt.toISOString(), seatCount: 50, price: [55_000, 77_000, 99_000][i]! };
      }),
    });
  }
  return findDemoUsers(db);
}

/** GET /api/v1/demo/users: who a newcomer can be, for the demo pages. Present only in demo mode. */
export async function demoRoutes(app: FastifyInstance, { db }: { db: Kysely<DB> }): Promise<void> {
  app.get(
    '/api/v1/demo/users',
    {
      schema: {
        tags: ['demo'],
        summary: 'The demo users (demo mode only)',
        response: { 200: Type.Object({ users: Type.Array(Type.Object({ userId: Type.String({ format: 'uuid' }), name: Type.String() })) }) },
      },
    },
    async () => ({ users: await findDemoUsers(db) }),
  );
}
