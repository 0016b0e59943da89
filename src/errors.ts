// Domain errors carry a stable code; the HTTP status for each code lives in one table, here.

export const errorStatus = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  INVALID_AMOUNT: 400,
  INVALID_CONCERT: 400,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  INVALID_ADMIN_KEY: 401,
  USER_MISMATCH: 403,
  TOKEN_NOT_ACTIVE: 403,
  NOT_FOUND: 404,
  INVALID_USER: 404,
  CONCERT_NOT_FOUND: 404,
  DATE_NOT_FOUND: 404,
  SEAT_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  SEAT_UNAVAILABLE: 409,
  INSUFFICIENT_BALANCE: 409,
  RESERVATION_EXPIRED: 409,
  ALREADY_PAID: 409,
  REQUEST_IN_PROGRESS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
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

  constructor(code: ErrorCode, message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.name = 'DomainError';
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
