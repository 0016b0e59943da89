// Demo data for a newcomer: a few users with points, one concert in Seoul with several dates whose seats
// follow a hall's layout (a stage, VIP, R and S sections at three prices) sold through the general
// line, and a second concert put on sale through a line of its own whose pre-queue is open at start and
// which opens a few minutes later, so the countdown, the draw and the open can be watched without
// configuring anything. Both are in Seoul's time zone. Created only where missing, so a restart changes nothing.
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { SeatLayout } from '../concerts/concert.schemas.js';
import type { ConcertService } from '../concerts/concert.service.js';
import type { DB } from '../db/schema.js';
import type { SaleService } from '../sales/sale.service.js';
import { creditPoints } from '../points/points.repository.js';
import { insertUser } from '../users/user.repository.js';

const DEMO_PREFIX = 'Demo fan ';
const DEMO_USERS = 5;
const DEMO_POINTS = 300_000;
const DAY_MS = 86_400_000;
const SALE_TITLE = 'boxoffice Live: Spring On-Sale';
const SEOUL = 'Asia/Seoul';
/** The demo concert's hall: rows widen away from the stage, as in a fan-shaped hall. 72 seats. */
export const DEMO_LAYOUT: SeatLayout = {
  stage: 'top',
  sections: [
    {
      name: 'VIP',
      price: 165_000,
      rows: [
        { name: 'A', seats: 6 },
        { name: 'B', seats: 8 },
      ],
    },
    {
      name: 'R',
      price: 132_000,
      rows: [
        { name: 'C', seats: 8 },
        { name: 'D', seats: 10 },
        { name: 'E', seats: 10 },
      ],
    },
    {
      name: 'S',
      price: 99_000,
      rows: [
        { name: 'F', seats: 10 },
        { name: 'G', seats: 10 },
        { name: 'H', seats: 10 },
      ],
    },
  ],
};
/** The demo sale opens this long after the first start: long enough to read the pre-queue screen. */
export const DEMO_SALE_OPENS_AFTER_MS = 3 * 60_000;

export interface DemoUser {
  userId: string;
  name: string;
}

export function findDemoUsers(db: Kysely<DB>): Promise<DemoUser[]> {
  return db.selectFrom('users').select(['id as userId', 'name']).where('name', 'like', `${DEMO_PREFIX}%`).orderBy('name').execute() as Promise<DemoUser[]>;
}

/** Seeds what is missing of the demo; a second start changes nothing. Returns the demo users. */
export async function seedDemo(db: Kysely<DB>, concerts: ConcertService, sales: Pick<SaleService, 'createSale'>, now = new Date()): Promise<DemoUser[]> {
  const anyUser = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  // Dates a month or so ahead of the first start, so they stay in the future for a while.
  const day = (offset: number) => new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS + offset * DAY_MS);
  if (!anyUser) {
    for (let i = 1; i <= DEMO_USERS; i++) {
      const userId = await insertUser(db, `${DEMO_PREFIX}${i}`);
      await creditPoints(db, userId, DEMO_POINTS);
    }
    await concerts.createConcert({
      title: 'boxoffice Live: Winter Stage',
      venue: 'Olympic Hall, Seoul',
      timeZone: SEOUL,
      layout: DEMO_LAYOUT,
      dates: [30, 31, 37].map((offset) => {
        const startsAt = new Date(day(offset).getTime() + 10 * 3_600_000); // 19:00 in Seoul
        return { date: startsAt.toISOString().slice(0, 10), startsAt: startsAt.toISOString() };
      }),
    });
  }
  const saleConcert = await db.selectFrom('concerts').select('id').where('title', '=', SALE_TITLE).executeTakeFirst();
  if (!saleConcert) {
    const startsAt = new Date(day(45).getTime() + 10 * 3_600_000);
    const concertId = await concerts.createConcert({
      title: SALE_TITLE,
      venue: 'KSPO Dome, Seoul',
      timeZone: SEOUL,
      dates: [{ date: startsAt.toISOString().slice(0, 10), startsAt: startsAt.toISOString(), seatCount: 40, price: 88_000 }],
    });
    await sales.createSale({
      concertId,
      queueOpensAt: now.toISOString(),
      opensAt: new Date(now.getTime() + DEMO_SALE_OPENS_AFTER_MS).toISOString(),
      maxSeatsPerUser: 2,
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
