// A lean JSON-over-HTTP client for load tools: node:http with a keep-alive agent whose socket count
// bounds the concurrency (requests beyond it wait in the agent's queue), plus timing of each call.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
  /**
   * performance.now() when the request got its socket (so time queued in the agent is not counted as
   * the server's) and when the whole answer had arrived. The server saw the request after sentAt.
   */
  sentAt: number;
  receivedAt: number;
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PATCH';
  /** A full http:// URL. */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  agent: http.Agent;
  timeoutMs?: number;
}

export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
}

export function requestJson<T = unknown>(options: RequestOptions): Promise<JsonResponse<T>> {
  const { method, url, body, agent, timeoutMs = 60_000 } = options;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    let sentAt = performance.now();
    const req = http.request(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        if (text.length > 0 && (res.headers['content-type'] ?? '').includes('json')) {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed as T, sentAt, receivedAt: performance.now() });
      });
    });
    req.once('socket', () => {
      sentAt = performance.now();
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The `code` of a contract error body, or undefined. */
export function errorCode(body: unknown): string | undefined {
  const error = (body as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string' ? error.code : undefined;
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` running at once. */
export async function runPool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await work(next++);
  });
  await Promise.all(workers);
}
