// A minimal Server-Sent Events reader over node:http for the simulator's streaming fans: calls onEvent
// with each `data:` JSON object until the stream ends or close() is called.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface SseStream {
  /** Resolves when the stream has ended, for whatever reason. */
  /** The status, and for a refused stream its error code (the contract's error body). */
  done: Promise<{ status: number; code?: string; error?: Error }>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string>, onEvent: (data: unknown, receivedAt: number) => void): SseStream {
  let req: http.ClientRequest | undefined;
  const done = new Promise<{ status: number; code?: string; error?: Error }>((resolve) => {
    req = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
          } catch {
            // not the contract's error body: the status says enough
          }
          resolve({ status: res.statusCode ?? 0, ...(code ? { code } : {}) });
        });
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (data) {
            try {
              onEvent(JSON.parse(data), performance.now());
            } catch {
              // a malformed event is ignored, like a browser would
            }
          }
        }
      });
      res.on('end', () => resolve({ status: 200 }));
      res.on('error', (error) => resolve({ status: 200, error }));
      res.on('close', () => resolve({ status: 200 }));
    });
    req.on('error', (error) => resolve({ status: 0, error }));
  });
  return { done, close: () => req?.destroy() };
}
