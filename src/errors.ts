// Domain errors carry a stable code; the HTTP status for each code lives in one table, here.
import type { EndReason } from './queue/queue.store.js';

export const errorStatus = {
  VALIDATION_ERROR: 400,
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_AMOUNT: 400,
  INVALID_CONCERT: 400,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  LINE_RESET: 401,
  INVALID_ADMIN_KEY: 401,
  INVALID_METRICS_KEY: 401,
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
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/**
 * An expected refusal (a taken seat, a short balance), not a fault: it carries no stack trace, since
 * capturing one through async frames costs more than the rest of a refused request.
 */
export class DomainError extends Error {
  readonly code: ErrorCode;
  /** Facts the error body carries beside its code and message (HOLD_EXISTS names the hold, TOKEN_EXPIRED its reason). */
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.details = details;
    this.name = 'DomainError';
  }
}

/** The optional fields of an error body: each is present only on the codes that name it. */
export interface ErrorDetails {
  /** HOLD_EXISTS: the token's live hold. */
  reservationId?: string;
  /** TOKEN_EXPIRED: why the token ended, when the store still remembers it. */
  reason?: EndReason;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string } & ErrorDetails;
}

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetails): ErrorBody {
  return { error: { code, message, ...details } };
}

/** A dependency (PostgreSQL, Redis) did not answer: the request may succeed if retried shortly. */
export class DependencyUnavailableError extends DomainError {
  constructor(message: string) {
    super('SERVICE_UNAVAILABLE', message);
    this.name = 'DependencyUnavailableError';
  }
}

/** Node socket codes that mean "the other side is not there (now)". */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/**
 * PostgreSQL SQLSTATEs of an unavailable server rather than a wrong request: connection exceptions
 * (class 08), shutdown and start-up (57P01..57P03), too many connections, and a statement cancelled by
 * statement_timeout (57014: the database is too slow to answer in time, which a retry may not be).
 */
const PG_UNAVAILABLE = /^(08...|57P0[1-3]|53300|57014)$/;
/** What pg, pg-pool and ioredis say when a connection is missing, lost or too slow. */
const CLIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection is closed|enableOfflineQueue options is false|Reached the max retries per request limit|Command timed out|Stream isn't writeable|Cannot use a pool after calling end/;

/** True when `error` is PostgreSQL's `sqlstate` on the named constraint (both clients carry the fields). */
export function violates(error: unknown, sqlstate: string, constraint: string): boolean {
  const fields = error as { code?: unknown; constraint?: unknown } | null;
  return fields?.code === sqlstate && fields.constraint === constraint;
}

/** True when `error` says a dependency is down or too slow, not that the request was wrong. */
export function isDependencyFailure(error: unknown): boolean {
  if (error instanceof DependencyUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || PG_UNAVAILABLE.test(code))) return true;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  if (CLIENT_MESSAGES.test(error.message)) return true;
  // An AggregateError (a connect attempt to several addresses) is down when all of its parts are.
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.every(isDependencyFailure);
  return error.cause !== undefined && error.cause !== error && isDependencyFailure(error.cause);
}
