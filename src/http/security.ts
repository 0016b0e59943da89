// Security headers (helmet, with a Content-Security-Policy the pages pass: no inline script or style,
// same-origin everything) and request logs that never carry a secret: queue tokens, user
// assertions, admin keys and proofs travel in headers, bodies and the stream's `?token=`, and only the
// last can reach a log line, through the URL.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import helmet from 'helmet';

export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  workerSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Vite's dev server injects each module's CSS as a <style> element and talks to the page over a
 * WebSocket for hot reload: `npm run dev` allows those, and nothing else changes.
 */
const DEV_CONTENT_SECURITY_POLICY = { ...CONTENT_SECURITY_POLICY, styleSrc: ["'self'", "'unsafe-inline'"], connectSrc: ["'self'", 'ws:'] };

/**
 * Helmet's middleware, built once and run on each request of the scope. (@fastify/helmet builds a new
 * one for every request, so that routes may bring options of their own: parsing the policy again took
 * 7 % of the server's busy time while tokens were issued. No route here has options of its own.)
 */
export async function registerSecurityHeaders(app: FastifyInstance, { dev }: { dev: boolean }): Promise<void> {
  const setHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: dev ? DEV_CONTENT_SECURITY_POLICY : CONTENT_SECURITY_POLICY },
    // Pages served over plain HTTP on a laptop must not be told to upgrade; a TLS proxy sets HSTS.
    strictTransportSecurity: false,
  });
  app.addHook('onRequest', (request, reply, done) => setHeaders(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined)));
}

/** Query parameters whose values are secrets. */
const SECRET_PARAMS = /([?&](?:token|assertion|proof|key)=)[^&#]*/gi;

/** A URL as logs may show it: the values of secret query parameters replaced. */
export function loggableUrl(url: string): string {
  return url.includes('?') ? url.replace(SECRET_PARAMS, '$1[redacted]') : url;
}

/** Fastify's request serializer, with the URL redacted and no headers at all. */
export function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: loggableUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** Header paths a log line must never show, should a handler log request headers. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-admin-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-admin-key"]',
];
