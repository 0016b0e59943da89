// What the fuzzer holds a response to: the contract's error codes with their statuses, the exact error
// shape, and a fingerprint of every piece of state a refused request must leave alone.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.js';
import type { WireResponse } from './fuzz-http.js';

/**
 * The error codes of the contract's tables (and the README's additions), with the status each maps
 * to. Written out here rather than imported, so the fuzzer checks the contract, not the implementation.
 */
export const CONTRACT_CODES: Readonly<Record<string, number>> = Object.freeze({
  VALIDATION_ERROR: 400,
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_AMOUNT: 400,
  INVALID_CONCERT: 400,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  LINE_RESET: 401,
  INVALID_ADMIN_KEY: 401,
  INVALID_USER_ASSERTION: 401,
  USER_MISMATCH: 403,
  TOKEN_NOT_ACTIVE: 403,
  SALE_MISMATCH: 403,
  BOT_CHECK_FAILED: 403,
  NOT_FOUND: 404,
  INVALID_USER: 404,
  CONCERT_NOT_FOUND: 404,
  DATE_NOT_FOUND: 404,
  SEAT_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  SALE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  SEAT_UNAVAILABLE: 409,
  INSUFFICIENT_BALANCE: 409,
  RESERVATION_EXPIRED: 409,
  ALREADY_PAID: 409,
  REQUEST_IN_PROGRESS: 409,
  SALE_NOT_OPEN: 409,
  SOLD_OUT: 409,
  SALE_CLOSED: 409,
  SALE_EXISTS: 409,
  SALE_STARTED: 409,
  SEAT_LIMIT_REACHED: 409,
  HOLD_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  SERVICE_UNAVAILABLE: 503,
});

/** The fields an error of these codes may carry beside code and message (HOLD_EXISTS must carry its hold). */
const OPTIONAL_FIELDS: Readonly<Record<string, readonly string[]>> = Object.freeze({ HOLD_EXISTS: ['reservationId'], TOKEN_EXPIRED: ['reason'] });
const END_REASONS = ['PAID', 'TURN_OVER', 'IDLE', 'SOLD_OUT', 'SALE_CLOSED'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Why an error response breaks the contract, or undefined when it keeps it. */
export function errorShapeProblem(method: string, response: WireResponse): string | undefined {
  // A HEAD answer has no body to check; its status is still checked by the caller.
  if (method.toUpperCase() === 'HEAD') return undefined;
  const type = String(response.headers['content-type'] ?? '');
  if (!type.toLowerCase().startsWith('application/json')) return `content-type is "${type}", not application/json`;
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    return 'body is not JSON';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body is not an object';
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return `body has keys [${keys.join(', ')}], not just "error"`;
  const error = (body as { error: unknown }).error;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return '"error" is not an object';
  const { code, message } = error as { code: unknown; message: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return 'code or message is not a string';
  const allowed = ['code', 'message', ...(OPTIONAL_FIELDS[code] ?? [])];
  const fields = Object.keys(error);
  if (!fields.includes('code') || !fields.includes('message') || fields.some((f) => !allowed.includes(f))) {
    return `"error" has keys [${fields.join(', ')}], not code and message${allowed.length > 2 ? ` (and ${allowed.slice(2).join(', ')})` : ''}`;
  }
  const extra = error as { reservationId?: unknown; reason?: unknown };
  if (code === 'HOLD_EXISTS' && (typeof extra.reservationId !== 'string' || !UUID.test(extra.reservationId))) return 'HOLD_EXISTS without the uuid of its hold';
  if ('reason' in extra && !END_REASONS.includes(extra.reason as string)) return `TOKEN_EXPIRED with an unknown reason ${String(extra.reason)}`;
  const status = CONTRACT_CODES[code];
  if (status === undefined) return `code ${code} is in none of the contract's tables`;
  if (status !== response.status) return `code ${code} maps to ${status}, answered with ${response.status}`;
  return undefined;
}

/** The error code of a contract-shaped body, if any. */
export function codeOf(response: WireResponse): string | undefined {
  try {
    const code = (JSON.parse(response.text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

export interface Fingerprint {
  database: Record<string, string>;
  queue: Record<string, string>;
}

/**
 * One query over every table a request could change: counts, sums and digests of money, seats,
 * reservations, payments, idempotency keys, users, concerts and sales. Cheap on the fuzzer's small
 * data set, and exact: any row added, removed or changed in a compared column changes it.
 */
export async function databaseFingerprint(db: Kysely<DB>): Promise<Record<string, string>> {
  const { rows } = await sql<Record<string, unknown>>`
    select
      (select count(*) from users) as users,
      (select md5(coalesce(string_agg(id::text || ':' || balance::text || ':' || coalesce(name, '~'), ',' order by id), '')) from users) as user_rows,
      (select count(*) from point_ledger) as ledger_rows,
      (select coalesce(sum(amount), 0) from point_ledger) as ledger_sum,
      (select md5(coalesce(string_agg(id || ':' || status || ':' || coalesce(reservation_id::text, '~') || ':' || coalesce(held_until::text, '~'), ',' order by id), '')) from seats) as seats,
      (select count(*) filter (where status = 'HELD') || '/' || count(*) filter (where status = 'SOLD') from seats) as seats_held_sold,
      (select count(*) from reservations) as reservations,
      (select md5(coalesce(string_agg(id::text || ':' || status || ':' || held_until::text, ',' order by id), '')) from reservations) as reservation_rows,
      (select count(*) || '/' || coalesce(sum(amount), 0) from payments) as payments,
      (select md5(coalesce(string_agg(user_id::text || ':' || endpoint || ':' || key || ':' || response_status, ',' order by user_id, endpoint, key), '')) from idempotency_keys) as idempotency_keys,
      (select md5(coalesce(string_agg(concert_id::text || ':' || date || ':' || total_seats || ':' || available_seats, ',' order by concert_id, date), '')) from concert_dates) as concert_dates,
      (select count(*) from concerts) as concerts,
      (select md5(coalesce(string_agg(id::text || ':' || active_limit || ':' || paused || ':' || settings_version || ':' || max_seats_per_user || ':' || queue_opens_at::text || ':' || opens_at::text || ':' || coalesce(closes_at::text, '~') || ':' || coalesce(sold_out_at::text, '~'), ',' order by id), '')) from sales) as sales,
      (select md5(coalesce(string_agg(line || ':' || active_limit || ':' || paused || ':' || version, ',' order by line), '')) from queue_lines) as queue_lines
  `.execute(db);
  const row = rows[0] ?? {};
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)]));
}

/** Fields of a line's operator view that only requests change (admittedPerMinute is a clock reading). */
export function lineFingerprint(view: Record<string, unknown>, fields: readonly string[]): string {
  return fields.map((f) => `${f}=${JSON.stringify(view[f])}`).join(' ');
}

/** The fields that differ between two fingerprints, as "name: before → after". */
export function fingerprintDiff(before: Fingerprint, after: Fingerprint): string[] {
  const out: string[] = [];
  for (const part of ['database', 'queue'] as const) {
    const names = new Set([...Object.keys(before[part]), ...Object.keys(after[part])]);
    for (const name of names) {
      const a = before[part][name];
      const b = after[part][name];
      if (a !== b) out.push(`${part}.${name}: ${a ?? '(none)'} → ${b ?? '(none)'}`);
    }
  }
  return out;
}
