// Turns every failure into the contract's error shape. Domain errors map by code; Fastify's own
// errors (validation, body parsing, limits) map by their code; anything else is a logged 500 that
// shows the client nothing of its insides.
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DependencyUnavailableError, DomainError, errorBody, errorStatus, isDependencyFailure, type ErrorCode, type ErrorDetails } from '../errors.js';
import { OutageLog } from '../health/outage-log.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A validation failure on one of these top-level body fields gets that field's own error code. */
    fieldErrorCodes?: Record<string, ErrorCode>;
  }
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

interface ValidationIssue {
  instancePath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** The top-level field a validation issue is about, if any ('/amount' or a missing 'amount'). */
function issueField(issue: ValidationIssue): string | undefined {
  const fromPath = issue.instancePath?.split('/')[1];
  if (fromPath) return fromPath;
  const missing = issue.params?.['missingProperty'];
  return typeof missing === 'string' ? missing : undefined;
}

function validationCode(request: FastifyRequest, error: FastifyError): ErrorCode {
  const fieldCodes = request.routeOptions.config.fieldErrorCodes;
  if (fieldCodes && error.validationContext === 'body') {
    for (const issue of (error.validation ?? []) as ValidationIssue[]) {
      const field = issueField(issue);
      const code = field ? fieldCodes[field] : undefined;
      if (code) return code;
    }
  }
  return 'VALIDATION_ERROR';
}

function send(reply: FastifyReply, code: ErrorCode, message: string, details?: ErrorDetails): FastifyReply {
  return reply
    .code(errorStatus[code])
    .type('application/json; charset=utf-8')
    .send(errorBody(code, message, details));
}

/** Client errors Fastify or its plugins raise with a status of their own (a Range past the end, say). */
const statusCodes: Record<number, ErrorCode> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  431: 'HEADERS_TOO_LARGE',
};

/**
 * PostgreSQL refusing a character of the request's text (a NUL, which its text type cannot hold):
 * the request's fault, refused whole by the failed statement.
 */
function isUnstorableText(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (an unknown method, headers over the
 * limit, a malformed request line) get the contract's shape too, and the connection is closed: after
 * a parse error nothing more can be read from it.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
  const status = errorStatus[code];
  const body = JSON.stringify(errorBody(code, code === 'HEADERS_TOO_LARGE' ? 'the request headers are too large' : 'the request could not be parsed'));
  socket.end(
    `HTTP/1.1 ${status} ${code.replaceAll('_', ' ')}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** How soon a client refused with 503 may try again: dependencies come back or fail over in seconds. */
export const RETRY_AFTER_SECONDS = 2;

export function registerErrorHandling(app: FastifyInstance): void {
  const outage = new OutageLog(app.log, 'requests to a dependency');
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DependencyUnavailableError || (!(error instanceof DomainError) && isDependencyFailure(error))) {
      // Not the client's fault and not a bug: say so, and when to come back. Logged once per outage.
      outage.failed(error);
      void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return send(reply, 'SERVICE_UNAVAILABLE', 'the service is briefly unavailable; try again in a moment');
    }
    if (error instanceof DomainError) return send(reply, error.code, error.message, error.details);
    if (isUnstorableText(error)) return send(reply, 'VALIDATION_ERROR', 'a text field holds a character that cannot be stored (such as NUL)');
    if (error.validation) return send(reply, validationCode(request, error), error.message);
    const mapped = error.code ? fastifyCodes[error.code] : undefined;
    if (mapped) return send(reply, mapped, error.message);
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      // Another client error Fastify or a plugin raised itself: a code of ours for its status, or a plain 400.
      return send(reply, statusCodes[error.statusCode] ?? 'BAD_REQUEST', error.message);
    }
    request.log.error({ err: error }, 'unhandled error');
    return send(reply, 'INTERNAL_ERROR', `internal error (request ${request.id})`);
  });

  app.setNotFoundHandler((request, reply) => send(reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
}
