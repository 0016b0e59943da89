// Answers for GETs whose body is rendered once and kept: the JSON bytes with a strong ETag (a hash of
// those bytes), sent as they are, or 304 Not Modified when the client already holds exactly them.
// The ETag names the body, not a version: two instances, or one before and after Redis lost its
// counters, give the same ETag only for the same bytes, so a match always means the copy is current.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

export interface RenderedBody {
  body: Buffer;
  /** A strong entity tag, quotes included. */
  etag: string;
}

/** Browsers keep the body but ask every time (If-None-Match): a list is never shown from memory as current. */
export const REVALIDATE_EVERY_TIME = 'private, no-cache';

export function renderJson(value: unknown): RenderedBody {
  return renderJsonText(JSON.stringify(value));
}

/** For a body put together from parts already rendered with JSON.stringify. */
export function renderJsonText(json: string): RenderedBody {
  const body = Buffer.from(json);
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

const ENTITY_TAG = /\*|(?:W\/)?"[^"]*"/g;

/** RFC 9110 13.1.2: If-None-Match compares weakly, and `*` matches any current body. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  for (const [tag] of header.matchAll(ENTITY_TAG)) {
    if (tag === '*' || tag === etag || tag === `W/${etag}`) return true;
  }
  return false;
}

/**
 * Sends `rendered` as JSON, or 304 with no body when the request's If-None-Match names it. The caller
 * must have rendered it against the current data (the listing's change counter read for this request).
 */
export function sendRendered(request: FastifyRequest, reply: FastifyReply, rendered: RenderedBody): FastifyReply {
  void reply.header('etag', rendered.etag).header('cache-control', REVALIDATE_EVERY_TIME);
  if (matchesIfNoneMatch(request.headers['if-none-match'], rendered.etag)) return reply.code(304).send();
  return reply.type('application/json; charset=utf-8').send(rendered.body);
}

/** The request header, for the OpenAPI document; any value is accepted. */
export const ConditionalHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'the ETag of the body the client holds: if it is still current, the answer is 304 with no body' })),
});

const responseHeaders = {
  etag: { type: 'string', description: "a strong tag of the body's bytes: send it back in If-None-Match" },
  'cache-control': { type: 'string', description: `${REVALIDATE_EVERY_TIME}: keep the body, but ask again before showing it` },
};

/** A 200 listing's schema with its headers documented. */
export function withListingHeaders<T extends object>(schema: T): T {
  return { ...schema, headers: responseHeaders };
}

export const NotModified = Type.Null({
  description: 'Not Modified: the ETag in If-None-Match is the current body',
  headers: responseHeaders,
});
