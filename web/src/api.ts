// The only way the pages talk to the server: typed calls to the public contract (API.md).
// Failures become ApiError with the contract's code, so the pages can show a sentence for it.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From a Retry-After header (429, 503): how long to wait before trying again. */
    readonly retryAfterSeconds?: number,
    /** What the error body carries beside code and message (HOLD_EXISTS: reservationId; TOKEN_EXPIRED: reason). */
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorDetails {
  reservationId?: string;
  reason?: EndReason;
}

export type SalePhase = 'SCHEDULED' | 'PREQUEUE' | 'OPEN' | 'SOLD_OUT' | 'CLOSED';

/** Why a token ended: its fan paid, its turn ran out, it was silent too long, or its sale sold out or closed. */
export type EndReason = 'PAID' | 'TURN_OVER' | 'IDLE' | 'SOLD_OUT' | 'SALE_CLOSED';

export interface QueueState {
  userId: string;
  /** SOLD_OUT only for a sale's token: the sale sold out, the place in line is over (final). */
  status: 'WAITING' | 'ACTIVE' | 'EXPIRED' | 'SOLD_OUT';
  position: number;
  estimatedWaitSeconds: number;
  pollAfterSeconds?: number;
  expiresAt: string;
  /** The operator paused admission of this line: nobody is let in until it resumes. */
  paused?: boolean;
  /** The operator's message to everyone in this line, when one is set. */
  message?: string;
  /** Once the token ended (EXPIRED or SOLD_OUT): why. */
  reason?: EndReason;
  // A sale's token adds these; the general line's has none of them.
  saleId?: string;
  phase?: SalePhase;
  seatsLeft?: number;
  /** This place in line's id in the sale's draw. */
  entryId?: string;
  /** The place the draw gave this entry (1-based); null before the draw and for joins after the open. */
  drawRank?: number | null;
}

export interface IssuedToken extends QueueState {
  token: string;
}

/** Where the stage is drawn, relative to the seats. */
export type Stage = 'top' | 'bottom' | 'left' | 'right';

/**
 * A venue's seats: sections from the stage outward, each with its price and its rows; seats are numbered
 * 1..N in section, row and seat order, so a seat's place follows from its number.
 */
export interface SeatLayout {
  stage: Stage;
  sections: { name: string; price: number; rows: { name: string; seats: number }[] }[];
}

export interface Concert {
  concertId: string;
  title: string;
  venue: string;
  /** The venue's IANA time zone; absent only in a session saved before the server listed it. */
  timeZone?: string;
  /** Absent for a concert of plain numbered seats. */
  layout?: SeatLayout;
}

export interface ConcertDate {
  date: string;
  startsAt: string;
  totalSeats: number;
  availableSeats: number;
  /** The price range of the date's seats (absent only in a session saved before the server listed it). */
  minPrice?: number;
  maxPrice?: number;
}

export interface Seat {
  seatId: string;
  number: number;
  price: number;
  /** Only for a concert with a layout. */
  section?: string;
  row?: string;
  seatInRow?: number;
}

export interface Reservation {
  reservationId: string;
  userId: string;
  concertId: string;
  date: string;
  seatNumber: number;
  price: number;
  status: 'HELD' | 'CONFIRMED' | 'EXPIRED';
  heldUntil: string;
}

export interface Payment {
  paymentId: string;
  reservationId: string;
  userId: string;
  amount: number;
  balance: number;
  paidAt: string;
}

export interface QueueStats {
  waiting: number;
  active: number;
  activeLimit: number;
  admittedPerMinute: number;
  paused: boolean;
  /** The operator's message to the line's fans, or null. */
  message: string | null;
}

/** One step of a line's history (GET /admin/v1/queue/history). */
export interface LineHistoryPoint {
  at: string;
  waiting: number;
  active: number;
  admitted: number;
  abandoned: number;
  admittedPerMinute: number;
  waitSeconds: { p50: number; p90: number; p99: number } | null;
}

export interface LineHistory {
  bucketSeconds: number;
  stepSeconds: number;
  from: string;
  to: string;
  points: LineHistoryPoint[];
}

/** A scheduled on-sale of one concert, with a line of its own (API.md, "Sales"). */
export interface Sale {
  saleId: string;
  concertId: string;
  title: string;
  venue: string;
  queueOpensAt: string;
  opensAt: string;
  closesAt: string | null;
  phase: SalePhase;
  seatsLeft: number;
  maxSeatsPerUser: number;
  draw: { commitment: string; seed: string | null };
}

/** What anyone can fetch once a sale opened, to recompute its draw. */
export interface SaleDraw {
  saleId: string;
  commitment: string;
  seed: string;
  entries: string[];
}

/** The operator's view of a sale: the sale plus its line's and seats' live numbers. */
export interface AdminSale extends Sale, QueueStats {
  sold: number;
  held: number;
  free: number;
}

export interface NewSale {
  concertId: string;
  queueOpensAt: string;
  opensAt: string;
  closesAt?: string;
  activeLimit?: number;
  maxSeatsPerUser?: number;
}

export interface SaleChange {
  activeLimit?: number;
  paused?: boolean;
  queueOpensAt?: string;
  opensAt?: string;
  closesAt?: string | null;
  message?: string | null;
}

/** A bot-check puzzle in ALTCHA's v1 format (API.md, "Bot check"). */
export interface PowChallenge {
  algorithm: string;
  challenge: string;
  maxnumber?: number;
  salt: string;
  signature: string;
}

/** What a join may carry besides the user id, each only when the server asks for it. */
export interface JoinCredentials {
  /** The solved bot-check challenge (ALTCHA's payload, base64); good for one join. */
  proof?: string;
  /** The ticket seller's signed statement of who the fan is (a JWT), sent as the bearer. */
  assertion?: string;
}

export interface NewConcert {
  title: string;
  venue: string;
  dates: { date: string; startsAt: string; seatCount: number; price: number }[];
}

interface CallOptions {
  method?: 'GET' | 'POST' | 'PATCH';
  body?: unknown;
  token?: string;
  /** A user assertion; goes in the same Authorization header as a token, so at most one of the two. */
  assertion?: string;
  adminKey?: string;
  idempotencyKey?: string;
  /**
   * For the lists, which the server sends with an ETag and `no-cache`: the browser keeps the last body
   * and asks with If-None-Match every time, so a 304 costs no body and nothing is shown unasked.
   */
  revalidate?: boolean;
}

/** One HTTP call; a network failure is reported as the code NETWORK so it gets a sentence too. */
export async function call<T>(path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const bearer = options.token ?? options.assertion;
  if (bearer) headers['authorization'] = `Bearer ${bearer}`;
  if (options.adminKey) headers['x-admin-key'] = options.adminKey;
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: options.revalidate ? 'no-cache' : 'no-store',
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'network error');
  }
  const payload: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = (payload as { error?: { code?: unknown; message?: unknown; reservationId?: unknown; reason?: unknown } } | undefined)?.error;
    const code = typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`;
    const message = typeof error?.message === 'string' ? error.message : code;
    const details: ErrorDetails = {};
    if (typeof error?.reservationId === 'string') details.reservationId = error.reservationId;
    if (typeof error?.reason === 'string') details.reason = error.reason as EndReason;
    throw new ApiError(response.status, code, message, retryAfterSeconds(response.headers.get('retry-after')), details);
  }
  return payload as T;
}

/** Retry-After is whole seconds or an HTTP date; either becomes seconds from now, at least 1. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : undefined;
}

const segment = encodeURIComponent;

export const fanApi = {
  demoUsers: () => call<{ users: { userId: string; name: string }[] }>('/api/v1/demo/users'),
  /** Joins the general line, or the line of a sale when saleId is given. */
  issueToken: (userId: string, saleId: string | undefined, { proof, assertion }: JoinCredentials = {}) =>
    call<IssuedToken>('/api/v1/queue/tokens', {
      method: 'POST',
      body: { userId, ...(saleId ? { saleId } : {}), ...(proof ? { proof } : {}) },
      ...(assertion ? { assertion } : {}),
    }),
  /** A bot-check puzzle; 404 when the server runs without the bot check. */
  challenge: () => call<PowChallenge>('/api/v1/challenge'),
  sales: () => call<{ sales: Sale[] }>('/api/v1/sales'),
  sale: (saleId: string) => call<Sale>(`/api/v1/sales/${segment(saleId)}`),
  draw: (saleId: string) => call<SaleDraw>(`/api/v1/sales/${segment(saleId)}/draw`),
  queueState: (token: string) => call<QueueState>('/api/v1/queue/tokens/me', { token }),
  queueEventsUrl: (token: string) => `/api/v1/queue/tokens/me/events?token=${segment(token)}`,
  concerts: (token: string) => call<{ concerts: Concert[] }>('/api/v1/concerts', { token, revalidate: true }),
  dates: (token: string, concertId: string) => call<{ dates: ConcertDate[] }>(`/api/v1/concerts/${segment(concertId)}/dates`, { token, revalidate: true }),
  seats: (token: string, concertId: string, date: string) =>
    call<{ seats: Seat[] }>(`/api/v1/concerts/${segment(concertId)}/dates/${segment(date)}/seats`, { token, revalidate: true }),
  hold: (token: string, body: { userId: string; concertId: string; date: string; seatNumber: number }) =>
    call<Reservation>('/api/v1/reservations', { method: 'POST', body, token }),
  reservation: (token: string, reservationId: string) => call<Reservation>(`/api/v1/reservations/${segment(reservationId)}`, { token }),
  balance: (token: string, userId: string) => call<{ userId: string; balance: number }>(`/api/v1/users/${segment(userId)}/points`, { token }),
  charge: (token: string, userId: string, amount: number, idempotencyKey: string) =>
    call<{ userId: string; balance: number }>(`/api/v1/users/${segment(userId)}/points/charge`, {
      method: 'POST',
      body: { amount },
      token,
      idempotencyKey,
    }),
  pay: (token: string, userId: string, reservationId: string, idempotencyKey: string) =>
    call<Payment>('/api/v1/payments', { method: 'POST', body: { userId, reservationId }, token, idempotencyKey }),
};

export const adminApi = {
  queue: (adminKey: string) => call<QueueStats>('/admin/v1/queue', { adminKey }),
  updateQueue: (adminKey: string, body: { activeLimit?: number; paused?: boolean; message?: string | null }) =>
    call<QueueStats>('/admin/v1/queue', { method: 'PATCH', body, adminKey }),
  sales: (adminKey: string) => call<{ sales: AdminSale[] }>('/admin/v1/sales', { adminKey }),
  createSale: (adminKey: string, body: NewSale) => call<AdminSale>('/admin/v1/sales', { method: 'POST', body, adminKey }),
  updateSale: (adminKey: string, saleId: string, body: SaleChange) =>
    call<AdminSale>(`/admin/v1/sales/${segment(saleId)}`, { method: 'PATCH', body, adminKey }),
  createConcert: (adminKey: string, body: NewConcert) => call<{ concertId: string }>('/admin/v1/concerts', { method: 'POST', body, adminKey }),
  queueHistory: (adminKey: string, minutes: number) => call<LineHistory>(`/admin/v1/queue/history?minutes=${minutes}`, { adminKey }),
  saleHistory: (adminKey: string, saleId: string, minutes: number) =>
    call<LineHistory>(`/admin/v1/sales/${segment(saleId)}/history?minutes=${minutes}`, { adminKey }),
};

/** A fresh Idempotency-Key; crypto.randomUUID needs a secure context, so fall back on plain http. */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
