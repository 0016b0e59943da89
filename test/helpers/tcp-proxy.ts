// A TCP proxy between the app under test and PostgreSQL or Redis, so a test can take the dependency
// away and give it back without touching the real server: `cut` drops every connection and refuses new
// ones (a server that went down), `freeze` keeps every connection open but passes nothing either way
// and leaves new ones unanswered (a server that stopped responding), `restore` forwards again.
import net from 'node:net';

export interface TcpProxy {
  /** `host:port` to put in a URL instead of the real server's. */
  readonly address: string;
  cut(): void;
  freeze(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'forward' | 'cut' | 'freeze' = 'forward';
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (mode === 'cut') return client.destroy();
    if (mode === 'freeze') return client.pause(); // read nothing, answer nothing
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    address: `127.0.0.1:${port}`,
    cut() {
      mode = 'cut';
      dropAll();
    },
    freeze() {
      mode = 'freeze';
      for (const s of sockets) s.pause();
    },
    restore() {
      // Frozen connections are dropped rather than resumed: their clients gave up on them long ago.
      if (mode === 'freeze') dropAll();
      mode = 'forward';
    },
    async close() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The same URL with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.host = proxy.address;
  return u.toString();
}
