// Seeding and operator calls over the public admin API (X-Admin-Key) and token issue, spread round-robin
// over every instance, with bounded concurrency. The tools never write the database behind the API.
import type http from 'node:http';
import { errorCode, keepAliveAgent, requestJson, runPool, type JsonResponse } from './http.js';

export interface QueueState {
  waiting: number;
  active: number;
  activeLimit: number;
  admittedPerMinute: number;
  paused: boolean;
}

export interface IssuedToken {
  token: string;
  userId: string;
  status: 'WAITING' | 'ACTIVE' | 'EXPIRED';
  position: number;
}

/** The operator's view of a sale (GET/POST /admin/v1/sales). */
export interface AdminSale {
  saleId: string;
  concertId: string;
  queueOpensAt: string;
  opensAt: string;
  closesAt: string | null;
  phase: 'SCHEDULED' | 'PREQUEUE' | 'OPEN' | 'SOLD_OUT' | 'CLOSED';
  seatsLeft: number;
  maxSeatsPerUser: number;
  draw: { commitment: string; seed: string | null };
  waiting: number;
  active: number;
  activeLimit: number;
  admittedPerMinute: number;
  paused: boolean;
  sold: number;
  held: number;
  free: number;
}

export interface NewSale {
  concertId: string;
  queueOpensAt: string;
  opensAt: string;
  closesAt?: string | null;
  activeLimit?: number;
  maxSeatsPerUser?: number;
}

export interface AdminClient {
  urls: string[];
  agent: http.Agent;
  createUsers(count: number, onProgress?: (done: number) => void): Promise<string[]>;
  createConcert(seatsPerDate: number[], price: number): Promise<{ concertId: string; dates: string[] }>;
  queue(): Promise<QueueState>;
  patchQueue(change: { activeLimit?: number; paused?: boolean }): Promise<QueueState>;
  createSale(sale: NewSale): Promise<JsonResponse<AdminSale>>;
  /** One sale with its live numbers, with the request's timing (a sample is a moment inside it). */
  sale(saleId: string): Promise<JsonResponse<AdminSale>>;
  issueTokens(userIds: string[], onProgress?: (done: number) => void): Promise<IssuedToken[]>;
  close(): void;
}

function describeFailure(what: string, status: number, body: unknown): Error {
  return new Error(`${what} answered ${status} ${errorCode(body) ?? JSON.stringify(body).slice(0, 200)}`);
}

/** Dates from 2027-01-01 on, one per seat block. */
export function concertDates(count: number): string[] {
  const start = Date.UTC(2027, 0, 1);
  return Array.from({ length: count }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10));
}

export function adminClient(urls: string[], adminKey: string, concurrency = 64): AdminClient {
  const agent = keepAliveAgent(concurrency);
  const headers = { 'x-admin-key': adminKey };
  let rr = 0;
  const nextUrl = () => urls[rr++ % urls.length]!;

  return {
    urls,
    agent,

    async createUsers(count, onProgress) {
      // POST /admin/v1/users/batch takes up to 10,000 at a time; a few batches in flight at once.
      const batch = 5_000;
      const batches = Math.ceil(count / batch);
      const chunks: string[][] = new Array<string[]>(batches);
      let done = 0;
      await runPool(batches, 2, async (i) => {
        const size = Math.min(batch, count - i * batch);
        const res = await requestJson<{ userIds: string[] }>({
          method: 'POST',
          url: `${nextUrl()}/admin/v1/users/batch`,
          body: { count: size },
          headers,
          agent,
          timeoutMs: 60_000,
        });
        if (res.status !== 201) throw describeFailure('POST /admin/v1/users/batch', res.status, res.body);
        chunks[i] = res.body.userIds;
        done += size;
        onProgress?.(done);
      });
      return chunks.flat();
    },

    async createConcert(seatsPerDate, price) {
      const dates = concertDates(seatsPerDate.length);
      const res = await requestJson<{ concertId: string }>({
        method: 'POST',
        url: `${urls[0]}/admin/v1/concerts`,
        headers,
        agent,
        body: {
          title: 'Load test night',
          venue: 'Bench Hall',
          dates: seatsPerDate.map((seatCount, i) => ({ date: dates[i], startsAt: `${dates[i]}T19:00:00.000Z`, seatCount, price })),
        },
      });
      if (res.status !== 201) throw describeFailure('POST /admin/v1/concerts', res.status, res.body);
      return { concertId: res.body.concertId, dates };
    },

    async queue() {
      const res = await requestJson<QueueState>({ method: 'GET', url: `${nextUrl()}/admin/v1/queue`, headers, agent, timeoutMs: 10_000 });
      if (res.status !== 200) throw describeFailure('GET /admin/v1/queue', res.status, res.body);
      return res.body;
    },

    async patchQueue(change) {
      const res = await requestJson<QueueState>({ method: 'PATCH', url: `${urls[0]}/admin/v1/queue`, headers, agent, body: change });
      if (res.status !== 200) throw describeFailure('PATCH /admin/v1/queue', res.status, res.body);
      return res.body;
    },

    async createSale(sale) {
      const res = await requestJson<AdminSale>({ method: 'POST', url: `${urls[0]}/admin/v1/sales`, headers, agent, body: sale });
      if (res.status !== 201) throw describeFailure('POST /admin/v1/sales', res.status, res.body);
      return res;
    },

    async sale(saleId) {
      const res = await requestJson<AdminSale>({ method: 'GET', url: `${nextUrl()}/admin/v1/sales/${saleId}`, headers, agent, timeoutMs: 10_000 });
      if (res.status !== 200) throw describeFailure(`GET /admin/v1/sales/${saleId}`, res.status, res.body);
      return res;
    },

    async issueTokens(userIds, onProgress) {
      const tokens: IssuedToken[] = new Array<IssuedToken>(userIds.length);
      let done = 0;
      await runPool(userIds.length, concurrency, async (i) => {
        const res = await requestJson<IssuedToken>({
          method: 'POST',
          url: `${nextUrl()}/api/v1/queue/tokens`,
          body: { userId: userIds[i] },
          agent,
        });
        if (res.status !== 201 && res.status !== 200) throw describeFailure('POST /api/v1/queue/tokens', res.status, res.body);
        tokens[i] = res.body;
        if (++done % 1000 === 0) onProgress?.(done);
      });
      return tokens;
    },

    close() {
      agent.destroy();
    },
  };
}
