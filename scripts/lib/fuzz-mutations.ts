// The fuzzer's requests before they go on the wire, and the mutations that turn a valid request into
// an invalid one: methods, paths, query strings, headers, content types, bodies, and the credentials
// (queue tokens, user assertions, bot-check proofs, operator keys) each endpoint takes.
import type { Rng } from './fuzz-random.js';
import { wirePath, type WireRequest } from './fuzz-http.js';

/** A request as a structure, so a mutation can change one part of it and leave the rest valid. */
export interface Draft {
  /** The endpoint family it started as, for the summary. */
  family: string;
  method: string;
  /** Path segments, unencoded unless a mutation encoded them on purpose. */
  segments: string[];
  query: Array<[string, string]>;
  headers: Array<[string, string]>;
  /** A JSON value; undefined means no body. */
  json?: unknown;
  /** Bytes sent instead of `json`. */
  raw?: Buffer;
  chunked?: boolean;
  /** A path that replaces segments and query entirely. */
  rawPath?: string;
  /** What was done to it, in order. */
  notes: string[];
  /**
   * Why it is certainly invalid, by the credential or part a mutation broke (a later mutation that
   * replaces that part clears it): any entry makes a 2xx a failure.
   */
  refusals: Record<string, string>;
  /** The user in the path or body that the token must name (routes that compare them). */
  boundUser?: string;
  /** The solved proof the request started with, to tell when edits gave it back. */
  validProof?: string;
  /** Content-Type is part of a JSON body unless a mutation removed or replaced it. */
  contentType?: string | null;
}

export function draft(family: string, method: string, path: string, options: { json?: unknown; headers?: Array<[string, string]> } = {}): Draft {
  const [pathPart, queryPart] = path.split('?') as [string, string | undefined];
  const query: Array<[string, string]> = queryPart
    ? queryPart.split('&').map((kv) => {
        const [k, v = ''] = kv.split('=');
        return [decodeURIComponent(k!), decodeURIComponent(v)];
      })
    : [];
  return {
    family,
    method,
    segments: pathPart.split('/').slice(1),
    query,
    headers: [...(options.headers ?? [])],
    json: options.json,
    notes: [],
    refusals: {},
    contentType: options.json === undefined ? undefined : 'application/json',
  };
}

/** Marks `aspect` (token, assertion, proof, adminKey) of the request as certainly invalid. */
export function refuse(d: Draft, aspect: string, why: string): void {
  d.refusals[aspect] = why;
}

/** `aspect` was replaced by a valid one: it no longer makes the request invalid. */
export function unrefuse(d: Draft, aspect: string): void {
  delete d.refusals[aspect];
}

export function mustRefuse(d: Draft): string | undefined {
  return Object.values(d.refusals)[0];
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

/** encodeURIComponent, except that a lone surrogate goes out as the bytes of one (invalid UTF-8). */
export function encodeComponent(s: string): string {
  return s
    .split(LONE_SURROGATE)
    .map((part) => encodeURIComponent(part))
    .join('%ED%A0%80');
}

export function toWire(d: Draft): WireRequest {
  const path =
    d.rawPath ??
    '/' + d.segments.join('/') + (d.query.length > 0 ? '?' + d.query.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`).join('&') : '');
  const headers = [...d.headers];
  if (d.contentType) headers.push(['content-type', d.contentType]);
  const body = d.raw ?? (d.json === undefined ? undefined : Buffer.from(JSON.stringify(d.json)));
  return { method: d.method, path: wirePath(path), headers, body, chunked: d.chunked };
}

export function header(d: Draft, name: string): string | undefined {
  return d.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

export function setHeader(d: Draft, name: string, value: string | undefined): void {
  d.headers = d.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
  if (value !== undefined) d.headers.push([name, value]);
}

// ---- strings --------------------------------------------------------------------------------------

const JUNK_STRINGS = [
  '',
  ' ',
  'null',
  'undefined',
  '0',
  '-1',
  'true',
  '[]',
  '{}',
  '%00',
  '\u0000',
  '../../../../etc/passwd',
  '..%2f..%2f',
  '<script>alert(1)</script>',
  "' or 1=1 --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style probe, sent as plain text on purpose
  '${jndi:ldap://x}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  '😀🎟️',
  '\u202e\u0635',
  '\ud800',
  'ǅ',
  'A'.repeat(300),
  '\t\r\n',
  'é',
];

export function junkString(rng: Rng): string {
  return rng.chance(0.1) ? 'x'.repeat(rng.pick([129, 513, 4097, 70_000])) : rng.pick(JUNK_STRINGS);
}

/** Small edits to a string: flip a character, cut it, lengthen it, change its case. */
export function tweakString(rng: Rng, s: string): { value: string; what: string } {
  const kind = rng.int(8);
  if (s.length === 0) return { value: 'x', what: 'filled empty' };
  const i = rng.int(s.length);
  switch (kind) {
    case 0: {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      let ch = rng.pick([...alphabet]);
      if (ch === s[i]) ch = s[i] === 'A' ? 'B' : 'A';
      return { value: s.slice(0, i) + ch + s.slice(i + 1), what: `flipped char ${i}` };
    }
    case 1:
      return { value: s.slice(0, i), what: `truncated to ${i}` };
    case 2:
      return { value: s + rng.pick(['A', '0', '-', '_', 'AAAA', s]), what: 'extended' };
    case 3:
      return { value: s.slice(1), what: 'dropped first char' };
    case 4:
      return { value: s.toUpperCase() === s ? s.toLowerCase() : s.toUpperCase(), what: 'changed case' };
    case 5:
      return { value: s.slice(0, i) + s.slice(i + 1), what: `deleted char ${i}` };
    case 6:
      return { value: [...s].reverse().join(''), what: 'reversed' };
    default:
      return { value: s.slice(0, i) + rng.pick(['.', '=', '+', '/', ' ', '%', '\u00e9']) + s.slice(i), what: `inserted a symbol at ${i}` };
  }
}

// ---- uuids and dates ---------------------------------------------------------------------------

export function uuidVariant(rng: Rng, id: string): { value: string; valid: boolean; what: string } {
  const variants: Array<[string, boolean, string]> = [
    [id.toUpperCase(), true, 'uppercase uuid'],
    [`urn:uuid:${id}`, false, 'urn:uuid: form'],
    [`{${id}}`, false, 'braced uuid'],
    [id.replace(/-/g, ''), false, 'uuid without dashes'],
    [id + '0', false, 'uuid with an extra digit'],
    [id.slice(0, -1), false, 'short uuid'],
    [id.slice(0, -1) + 'g', false, 'non-hex uuid'],
    ['00000000-0000-0000-0000-000000000000', false, 'nil uuid'],
    [rng.uuid(), false, 'unknown uuid'],
    [` ${id}`, false, 'uuid with a space'],
    [id.replace(/-/g, '_'), false, 'underscored uuid'],
    [`${id}/../${id}`, false, 'traversal around a uuid'],
    [encodeComponent(`${id}\u0000`), false, 'uuid with an encoded NUL'],
    ['%E2%80%AE' + id, false, 'uuid behind an encoded RTL mark'],
    [id.replace(/-/g, '%2D'), false, 'percent-encoded dashes'],
    ['ffffffff-ffff-ffff-ffff-ffffffffffff', false, 'max uuid'],
  ];
  const [value, valid, what] = rng.pick(variants);
  return { value, valid, what };
}

export function dateVariant(rng: Rng, date: string): { value: string; what: string } {
  const [y, m, d] = date.split('-');
  const variants = [
    `${y}-02-30`,
    `${y}-13-01`,
    `${y}-00-10`,
    `${y}-${m}-32`,
    `${y}${m}${d}`,
    `${Number(y)}-${Number(m)}-${Number(d)}`,
    `${date}T00:00:00Z`,
    `+${y}-${m}-${d}`,
    `0000-${m}-${d}`,
    '9999-12-31',
    '2026-12-24',
    `${y}-${m}-${d}%20`,
    `${y}/${m}/${d}`,
    '１２３４-０１-０１',
    'today',
    `${date}.json`,
  ];
  const value = rng.pick(variants);
  return { value, what: `date "${value}"` };
}

// ---- generic mutations --------------------------------------------------------------------------

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'QUERY', 'LOCK', 'MKCOL', 'FOO'];

export function mutateMethod(rng: Rng, d: Draft): void {
  let m = rng.pick(METHODS);
  if (m === d.method) m = d.method === 'GET' ? 'POST' : 'GET';
  d.notes.push(`method ${d.method} → ${m}`);
  d.method = m;
}

export function mutatePath(rng: Rng, d: Draft): void {
  const kind = rng.int(12);
  const n = d.segments.length;
  switch (kind) {
    case 0:
      d.segments = [...d.segments, ''];
      d.notes.push('trailing slash');
      return;
    case 1:
      d.segments = [d.segments[0]!, '', ...d.segments.slice(1)];
      d.notes.push('double slash');
      return;
    case 2:
      d.segments = [...d.segments.slice(0, n - 1), '..', ...d.segments.slice(n - 1)];
      d.notes.push('dot-dot segment');
      return;
    case 3:
      d.segments = [...d.segments, rng.pick(['x', '..', '%2e%2e', '%00', 'index.html', '%2F', '😀'])];
      d.notes.push('extra segment');
      return;
    case 4:
      d.segments = d.segments.slice(0, Math.max(1, n - 1));
      d.notes.push('last segment dropped');
      return;
    case 5: {
      const i = rng.int(n);
      d.segments[i] = d.segments[i]!.toUpperCase();
      d.notes.push(`segment ${i} uppercased`);
      return;
    }
    case 6: {
      const i = rng.int(n);
      d.segments[i] = encodeComponent(d.segments[i]!).replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
      d.notes.push(`segment ${i} percent-encoded`);
      return;
    }
    case 7: {
      const i = rng.int(n);
      d.segments[i] = rng.pick(['%', '%zz', '%c0%af', '%ff', '%e2%82', '%u0041', '%%32%65']);
      d.notes.push(`segment ${i} bad percent-encoding`);
      return;
    }
    case 8: {
      const i = rng.int(n);
      d.segments[i] = 'a'.repeat(rng.pick([101, 2000, 9000]));
      d.notes.push(`segment ${i} very long`);
      return;
    }
    case 9:
      d.rawPath = rng.pick([
        '*',
        '//',
        '/..',
        '/./api/v1/concerts',
        '/api/v1/%2e%2e/%2e%2e/healthz',
        '/api//v1/sales',
        '/API/V1/SALES',
        '/api/v1/sales#x',
        '/api/v1/sales;jsessionid=1',
        '/api/v1/sales%3Fx=1',
        '/%61pi/v1/sales',
        '/static/../../package.json',
        '/assets/..%2f..%2fpackage.json',
        '/index.html%00.js',
      ]);
      d.notes.push(`raw path ${d.rawPath}`);
      return;
    case 10: {
      const i = rng.int(n);
      d.segments[i] = junkString(rng);
      d.notes.push(`segment ${i} junk`);
      return;
    }
    default: {
      const i = rng.int(n);
      const t = tweakString(rng, d.segments[i]!);
      d.segments[i] = t.value;
      d.notes.push(`segment ${i} ${t.what}`);
    }
  }
}

export function mutateQuery(rng: Rng, d: Draft): void {
  const kind = rng.int(8);
  switch (kind) {
    case 0:
      d.query.push([junkString(rng), junkString(rng)]);
      d.notes.push('junk query parameter');
      return;
    case 1:
      d.query.push(['__proto__[polluted]', '1'], ['constructor[prototype][x]', '1']);
      d.notes.push('prototype keys in query');
      return;
    case 2:
      d.rawPath =
        '/' + d.segments.join('/') + '?' + rng.pick(['%zz', '%', 'a=%ff', '&&&', '=', 'a[b][c][d][e][f]=1', 'a=1&a=2&a=3', '?', `x=${'y'.repeat(20_000)}`]);
      d.notes.push('odd raw query');
      return;
    case 3:
      d.query = [...d.query, ...d.query];
      d.query.push(['token', 'x']);
      d.notes.push('repeated query parameters');
      return;
    case 4:
      d.query.push(['limit', rng.pick(['-1', '1e309', 'NaN', '99999999999999999999'])]);
      d.notes.push('numeric junk in query');
      return;
    case 5:
      for (let i = 0; i < 300; i++) d.query.push([`k${i}`, String(i)]);
      d.notes.push('300 query parameters');
      return;
    case 6:
      d.query.push(['token', rng.pick(['', ' ', 'a.b', 'x'.repeat(600)])]);
      d.notes.push('token in the query');
      return;
    default:
      d.query = [];
      d.notes.push('query cleared');
  }
}

const CONTENT_TYPES = [
  null,
  'text/plain',
  'text/plain; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json, text/plain',
  'application/jsonx',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/problem+json',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/xml',
  'application/octet-stream',
  '*/*',
  'application/',
  ';',
  'application/json;;;;',
  'application/json; charset="utf-8"; q=0.1',
  `application/json; x=${'y'.repeat(5000)}`,
  'application/json\u00e9',
];

export function mutateContentType(rng: Rng, d: Draft): void {
  const kind = rng.int(4);
  if (kind === 0) {
    // Two Content-Type lines.
    d.headers.push(['content-type', rng.pick(['text/plain', 'application/json'])]);
    d.notes.push('second content-type header');
    return;
  }
  const value = rng.pick(CONTENT_TYPES);
  d.contentType = value;
  if (d.json === undefined && d.raw === undefined && rng.chance(0.5)) d.raw = Buffer.from('{}');
  d.notes.push(`content-type ${value === null ? 'removed' : JSON.stringify(value.slice(0, 60))}`);
}

export function mutateHeaders(rng: Rng, d: Draft): void {
  const kind = rng.int(12);
  switch (kind) {
    case 0:
      d.headers.push([
        'x-forwarded-for',
        rng.pick([
          '',
          'garbage',
          '1.2.3.4, 5.6.7.8',
          '::1',
          '[::1]:80',
          '999.999.1.1',
          'unknown',
          '127.0.0.1,'.repeat(200),
          '10.0.0.1\u00e9',
          '-',
          '0.0.0.0',
          'fe80::1%eth0',
        ]),
      ]);
      d.notes.push('x-forwarded-for junk');
      return;
    case 1:
      d.headers.push(['x-oversized', 'x'.repeat(rng.pick([8_000, 15_000]))]);
      d.notes.push('large header');
      return;
    case 2:
      for (let i = 0; i < 120; i++) d.headers.push([`x-h${i}`, String(i)]);
      d.notes.push('120 extra headers');
      return;
    case 3:
      d.headers.push(['accept', rng.pick(['text/html', 'application/xml', '*/*;q=0', 'image/png', '', 'text/event-stream'])]);
      d.notes.push('odd accept');
      return;
    case 4:
      d.headers.push(['content-encoding', rng.pick(['gzip', 'br', 'deflate', 'identity', 'x-unknown'])]);
      d.notes.push('content-encoding on a plain body');
      return;
    case 5:
      d.chunked = true;
      d.notes.push('chunked body');
      return;
    case 6:
      d.headers.push(['expect', '100-continue']);
      d.notes.push('expect 100-continue');
      return;
    case 7:
      d.headers.push(['if-none-match', rng.pick(['*', '"x"', 'W/"junk"', '"' + 'x'.repeat(500) + '"'])]);
      d.notes.push('if-none-match');
      return;
    case 8:
      d.headers.push(['range', rng.pick(['bytes=0-0', 'bytes=999999999-', 'bytes=5-1', 'bytes=-0', 'bytes=0-1,2-3,4-5', 'lines=1-2', 'bytes=x'])]);
      d.notes.push('range header');
      return;
    case 9:
      d.headers.push(['origin', rng.pick(['https://evil.example', 'null', ''])]);
      d.notes.push('origin header');
      return;
    case 10:
      d.headers.push(['x-http-method-override', rng.pick(['DELETE', 'PUT', 'GET'])]);
      d.notes.push('method override header');
      return;
    default:
      d.headers.push(['x-request-id', junkString(rng).replace(/[^\u0020-\u007e]/g, '?')]);
      d.notes.push('x-request-id junk');
  }
}

/** A deeply nested JSON text: arrays or objects `depth` levels down. */
function nested(depth: number, objects: boolean): string {
  return objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

function junkValue(rng: Rng): unknown {
  return rng.pick<unknown>([
    null,
    true,
    false,
    0,
    -1,
    1.5,
    -0,
    1e308,
    2 ** 53 + 1,
    -(2 ** 63),
    10_000_001,
    '1',
    '',
    '😀',
    '\u0000',
    [],
    [1],
    {},
    { a: 1 },
    'x'.repeat(1000),
    Number.MAX_SAFE_INTEGER,
  ]);
}

export function mutateBody(rng: Rng, d: Draft): void {
  const obj = d.json !== null && typeof d.json === 'object' && !Array.isArray(d.json) ? (d.json as Record<string, unknown>) : undefined;
  const keys = obj ? Object.keys(obj) : [];
  const kind = rng.int(16);
  if (d.contentType === undefined) d.contentType = 'application/json';
  switch (kind) {
    case 0:
      if (obj && keys.length > 0) {
        const k = rng.pick(keys);
        delete obj[k];
        d.notes.push(`body field ${k} removed`);
        return;
      }
      d.json = {};
      d.notes.push('empty object body');
      return;
    case 1:
    case 2:
      if (obj && keys.length > 0) {
        const k = rng.pick(keys);
        obj[k] = junkValue(rng);
        d.notes.push(`body field ${k} = ${JSON.stringify(obj[k])?.slice(0, 40)}`);
        return;
      }
      d.json = junkValue(rng);
      d.notes.push('junk body');
      return;
    case 3:
      d.json = { ...(obj ?? {}), [rng.pick(['extra', 'isAdmin', '__proto__', 'constructor', 'USERID', 'userid', ''])]: rng.pick([1, 'x', null, {}]) };
      d.notes.push('extra body field');
      return;
    case 4:
      d.json = rng.pick<unknown>([[], [obj], 'string', 42, null, true]);
      d.notes.push('body not an object');
      return;
    case 5: {
      const text = JSON.stringify(d.json ?? {});
      d.raw = Buffer.from(
        rng.pick([
          text.slice(0, Math.max(1, text.length - 1)),
          text + ',',
          text.replace(/"/g, "'"),
          `${text}${text}`,
          '{',
          '',
          ' ',
          'nul',
          '{"a":1,}',
          '\ufeff' + text,
          text + '\u0000',
        ]),
      );
      d.notes.push('invalid JSON text');
      return;
    }
    case 6:
      d.raw = Buffer.from(nested(rng.pick([64, 1000, 20_000]), rng.chance(0.5)));
      d.notes.push('deeply nested JSON');
      return;
    case 7:
      d.raw = Buffer.from(JSON.stringify({ ...(obj ?? {}), pad: 'x'.repeat(1024 * 1024 + rng.int(4096)) }));
      d.notes.push('body over 1 MiB');
      return;
    case 8: {
      if (obj && keys.length > 0) {
        const k = rng.pick(keys);
        const text = JSON.stringify(obj);
        d.raw = Buffer.from(text.slice(0, -1) + `,${JSON.stringify(k)}:${JSON.stringify(junkValue(rng))}}`);
        d.notes.push(`duplicate key ${k}`);
        return;
      }
      d.raw = Buffer.from('{"a":1,"a":2}');
      d.notes.push('duplicate key');
      return;
    }
    case 9:
      d.raw = Buffer.from(JSON.stringify(obj ?? {}).replace(/^\{/, '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},'));
      d.notes.push('prototype-pollution keys');
      return;
    case 10:
      d.raw = Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]);
      d.notes.push('UTF-16 bytes');
      return;
    case 11:
      d.raw = Buffer.from(JSON.stringify(d.json ?? {}).replace(/"([^"]*)"/, '"$1\udc00"'));
      d.notes.push('lone surrogate');
      return;
    case 12:
      if (obj && keys.length > 0) {
        const k = rng.pick(keys);
        obj[k] = typeof obj[k] === 'string' ? (obj[k] as string) + rng.pick(['\u0000', ' ', '😀', '\u00e9', '\n']) : String(obj[k]);
        d.notes.push(`body field ${k} retyped or suffixed`);
        return;
      }
      d.json = { a: '😀' };
      d.notes.push('unicode body');
      return;
    case 13:
      d.json = undefined;
      d.raw = undefined;
      d.notes.push('no body');
      return;
    case 14:
      d.raw = Buffer.from(JSON.stringify(d.json ?? {}).replace(/(\d+)/, '$1e400'));
      d.notes.push('number overflowing a double');
      return;
    default:
      d.raw = Buffer.from(JSON.stringify(d.json ?? {}).replace(/(\d+)/, '$1.0000000000000000001'));
      d.notes.push('number with a fraction');
  }
}

// ---- credentials --------------------------------------------------------------------------------

/**
 * Another spelling of a base64url MAC that decodes to the same bytes (a lenient decoder accepts it):
 * padding, standard-alphabet characters, or different unused bits in the last character.
 */
export function nonCanonicalBase64url(rng: Rng, value: string): { value: string; what: string } | undefined {
  const kind = rng.int(4);
  if (kind === 0) return { value: value + rng.pick(['=', '==', '.', '%3D']), what: 'padding appended' };
  if (kind === 1 && /[-_]/.test(value)) return { value: value.replace(/-/g, '+').replace(/_/g, '/'), what: 'standard base64 alphabet' };
  if (kind === 2) return { value: value + rng.pick(['!', '*', ' =', '\u00e9']), what: 'invalid character appended' };
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  // A 32-byte MAC is 43 characters: the last carries 4 data bits and 2 unused ones.
  if (value.length % 4 === 3) {
    const last = alphabet.indexOf(value[value.length - 1]!);
    if (last >= 0) {
      const flipped = alphabet[last ^ rng.pick([1, 2, 3])]!;
      return { value: value.slice(0, -1) + flipped, what: 'unused bits of the last character changed' };
    }
  }
  return undefined;
}

/**
 * A queue token changed in one way. Tokens are opaque: a `claims.mac` pair is edited part by part, a
 * single base64url blob as bytes (the claims first, the MAC last). `altered` is false only when the
 * edit happens to give back the same string.
 */
export function mutateQueueToken(rng: Rng, token: string, others: readonly string[]): { value: string; what: string; altered: boolean } {
  const m = tokenEdit(rng, token, others);
  return { ...m, altered: m.value !== token };
}

function tokenEdit(rng: Rng, token: string, others: readonly string[]): { value: string; what: string } {
  const dot = token.indexOf('.');
  const kind = rng.int(9);
  if (kind === 0) {
    const t = tweakString(rng, token);
    return { value: t.value, what: t.what };
  }
  if (kind === 1) {
    const n = nonCanonicalBase64url(rng, dot >= 0 ? token.slice(dot + 1) : token);
    if (n) return { value: dot >= 0 ? `${token.slice(0, dot + 1)}${n.value}` : n.value, what: n.what };
    return { value: `${token}=`, what: 'padding appended' };
  }
  if (kind === 2) {
    // The same bytes in standard base64 (with padding where it needs any).
    const parts = dot >= 0 ? [token.slice(0, dot), token.slice(dot + 1)] : [token];
    return { value: parts.map((p) => Buffer.from(p, 'base64url').toString('base64')).join('.'), what: 're-encoded as standard base64' };
  }
  if (kind === 3) {
    const other = others.length > 0 ? rng.pick(others) : token;
    if (dot >= 0) return { value: `${token.slice(0, dot)}.${other.slice(other.indexOf('.') + 1)}`, what: "another token's mac" };
    const a = Buffer.from(token, 'base64url');
    const b = Buffer.from(other, 'base64url');
    const cut = Math.max(0, a.length - 32);
    return {
      value: Buffer.concat([a.subarray(0, cut), b.subarray(Math.max(0, b.length - 32))]).toString('base64url'),
      what: "another token's last 32 bytes (its MAC)",
    };
  }
  if (kind === 4) {
    // Forged claims: another user under the original MAC.
    if (dot >= 0) {
      const claims = Buffer.from(token.slice(0, dot), 'base64url').toString('utf8').split('.');
      claims[0] = rng.uuid();
      return { value: `${Buffer.from(claims.join('.')).toString('base64url')}.${token.slice(dot + 1)}`, what: 'claims forged to another user' };
    }
    const bytes = Buffer.from(token, 'base64url');
    Buffer.from(rng.uuid().replace(/-/g, ''), 'hex').copy(bytes, 0);
    return { value: bytes.toString('base64url'), what: 'first 16 bytes (the user) forged' };
  }
  if (kind === 5) {
    const bytes = Buffer.from(token, 'base64url');
    const i = rng.int(bytes.length);
    bytes[i] = bytes[i]! ^ (1 << rng.int(8));
    return { value: bytes.toString('base64url'), what: `bit flipped in byte ${i}` };
  }
  if (kind === 6) {
    return {
      value: rng.pick([
        `${token}.${token}`,
        `.${token}`,
        `${token}.`,
        token.slice(0, token.length >> 1),
        `${token}${token}`,
        'x'.repeat(513),
        token.slice(1) + token[0],
      ]),
      what: 'token restructured',
    };
  }
  if (kind === 7)
    return { value: encodeComponent(token).replace(/[-_.]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`), what: 'percent-encoded token' };
  return { value: junkString(rng), what: 'junk token' };
}

/** The Authorization header around a token, with the scheme and spacing varied. */
export function authorizationVariant(rng: Rng, token: string): { value: string | undefined; what: string; refused: boolean } {
  const variants: Array<[string | undefined, string, boolean]> = [
    [undefined, 'authorization removed', true],
    [`bearer ${token}`, 'lowercase scheme', false],
    [`BEARER ${token}`, 'uppercase scheme', false],
    [`Bearer  ${token}`, 'two spaces', false],
    [`Bearer\t${token}`, 'tab after scheme', true],
    [`Bearer${token}`, 'no space after scheme', true],
    [`Basic ${Buffer.from(`user:${token}`).toString('base64')}`, 'Basic scheme', true],
    [`Token ${token}`, 'Token scheme', true],
    [`Bearer ${token} ${token}`, 'two tokens', true],
    [`Bearer "${token}"`, 'quoted token', true],
    [token, 'bare token', true],
    ['Bearer ', 'empty bearer', true],
    ['Bearer', 'scheme only', true],
    [`Bearer ${token},Bearer ${token}`, 'comma-joined bearers', true],
  ];
  const [value, what, refused] = rng.pick(variants);
  return { value, what, refused };
}

/** A proof payload (base64 JSON) changed in one way; every one of these must be refused. */
export function mutateProof(rng: Rng, proof: string): { value: unknown; what: string } {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(Buffer.from(proof, 'base64').toString('utf8')) as Record<string, unknown>;
  } catch {
    // Not a payload: the edits below still produce junk.
  }
  const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');
  const kind = rng.int(11);
  switch (kind) {
    case 0:
      return { value: encode({ ...parsed, number: Number(parsed['number'] ?? 0) + 1 }), what: 'wrong number' };
    case 1:
      return { value: encode({ ...parsed, signature: tweakString(rng, String(parsed['signature'] ?? 'x')).value }), what: 'signature altered' };
    case 2:
      return { value: encode({ ...parsed, salt: String(parsed['salt'] ?? '') + '&expires=9999999999' }), what: 'salt extended' };
    case 3:
      return { value: encode({ ...parsed, algorithm: rng.pick(['SHA-1', 'SHA-512', 'none', '']) }), what: 'algorithm changed' };
    case 4:
      return { value: rng.pick(['!!!not base64!!!', proof.slice(0, proof.length >> 1), proof + '*', '', '====']), what: 'bad base64' };
    case 5:
      return {
        value: Buffer.from(rng.pick(['{', 'null', '[]', '"x"', '{"number":"1"}', '{"algorithm":{}}'])).toString('base64'),
        what: 'JSON junk in the proof',
      };
    case 6:
      return { value: rng.pick<unknown>([null, 1, {}, [], true, { ...parsed }]), what: 'proof not a string' };
    case 7:
      return { value: encode({ ...parsed, number: -1 }), what: 'negative number' };
    case 8:
      return {
        value: encode({
          ...parsed,
          challenge: String(parsed['challenge'] ?? '')
            .split('')
            .reverse()
            .join(''),
        }),
        what: 'challenge altered',
      };
    case 9:
      return { value: 'x'.repeat(rng.pick([200, 5000, 100_000])), what: 'oversized proof' };
    default:
      return { value: Buffer.from(proof, 'base64').toString('base64url'), what: 'proof re-encoded as base64url' };
  }
}
