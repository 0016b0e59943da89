// A queue status stream read over a real socket (inject cannot stream): every `data:` event parsed, in order.
import http from 'node:http';

export interface Stream {
  /** The `data:` payloads so far, parsed. */
  events: any[];
  /** Settles when the server ends the stream or the socket closes. */
  ended: Promise<void>;
  close: () => void;
  status: number;
  headers: http.IncomingHttpHeaders;
}

/** The stream's path for a token given as `?token=`, as EventSource sends it. */
export function eventsPath(token: string): string {
  return `/api/v1/queue/tokens/me/events?token=${encodeURIComponent(token)}`;
}

export function openStream(port: number, path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      const events: any[] = [];
      let buffer = '';
      const ended = new Promise<void>((done) => res.on('end', done).on('close', done));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
      });
      resolve({ events, ended, close: () => req.destroy(), status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
  });
}
