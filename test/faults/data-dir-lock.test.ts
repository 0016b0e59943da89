// The embedded database (PGlite) is one process's files: a second server on the same DATA_DIR must
// refuse to start (naming DATA_DIR) rather than open the files under the first one's feet, and the first
// keeps serving. A SIGKILLed owner must not leave the directory stuck: the next server starts on it and
// every top-up the first one acknowledged is still there.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, repoRoot, waitFor } from '../cluster/harness.js';
import { CLIENT_TIMEOUT_MS, sleep } from './probe.js';

const ADMIN_KEY = 'fault-admin-key-0123456789';
const serverEntry = path.join(repoRoot, 'dist', 'src', 'server.js');
/** How soon the second server must give up. */
const REFUSAL_MS = 10_000;
const START_MS = 60_000;
/** Never inherited from the calling shell: the test decides every one of these. */
const serviceVariables =
  /^(PORT|HOST|DATABASE_URL|DATA_DIR|REDIS_URL|REDIS_PREFIX|ADMIN_KEY|TOKEN_SECRET|SEED_DEMO|NODE_ENV|LOG_LEVEL|QUEUE_.*|RESERVATION_.*|RATE_LIMIT_.*)$/;

class EmbeddedServer {
  readonly child: ChildProcess;
  output = '';
  exit: { code: number | null; signal: string | null } | undefined;
  readonly exited: Promise<void>;
  readonly startedAt = Date.now();
  exitedAt = 0;

  constructor(
    dataDir: string,
    readonly port: number,
  ) {
    const inherited = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !serviceVariables.test(e[0])));
    this.child = spawn(process.execPath, [serverEntry], {
      cwd: repoRoot,
      env: { ...inherited, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', SEED_DEMO: 'false', ADMIN_KEY, NODE_ENV: 'production', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-32_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.exitedAt = Date.now();
        resolve();
      }),
    );
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  async call<T = any>(
    method: string,
    urlPath: string,
    o: { body?: unknown; token?: string; admin?: boolean; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers['authorization'] = `Bearer ${o.token}`;
    if (o.admin) headers['x-admin-key'] = ADMIN_KEY;
    const response = await fetch(this.baseUrl + urlPath, {
      method,
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: shown as text.
    }
    return { status: response.status, body: body as T };
  }

  /** Resolves once /readyz answers 200; fails if the process exits first or after `timeoutMs`. */
  async waitReady(timeoutMs = START_MS): Promise<void> {
    await waitFor(
      async () => {
        if (!this.alive) throw new Error(`server on ${this.port} exited (${JSON.stringify(this.exit)}):\n${this.output}`);
        const status = await this.call('GET', '/readyz').then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) throw new Error(`server on ${this.port} not ready (last /readyz: ${status}):\n${this.output}`);
      },
      timeoutMs,
      50,
    );
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A user with a token and `amounts` topped up, each acknowledged; returns the last acknowledged balance. */
async function topUp(server: EmbeddedServer, amounts: number[]): Promise<{ userId: string; balance: number }> {
  const created = await server.call<{ userId: string }>('POST', '/admin/v1/users', { admin: true, body: { name: 'fan' } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const { userId } = created.body;
  const joined = await server.call<{ token: string }>('POST', '/api/v1/queue/tokens', { body: { userId } });
  expect(joined.status, JSON.stringify(joined.body)).toBe(201);
  let balance = 0;
  for (const amount of amounts) {
    const charged = await server.call<{ balance: number }>('POST', `/api/v1/users/${userId}/points/charge`, {
      token: joined.body.token,
      headers: { 'idempotency-key': randomUUID() },
      body: { amount },
    });
    expect(charged.status, JSON.stringify(charged.body)).toBe(200);
    balance = charged.body.balance;
  }
  return { userId, balance };
}

/** The balance as the API reports it, through a fresh token (the in-process line does not outlive its process). */
async function balanceOf(server: EmbeddedServer, userId: string): Promise<string> {
  try {
    const joined = await server.call<{ token: string }>('POST', '/api/v1/queue/tokens', { body: { userId } });
    if (joined.status !== 200 && joined.status !== 201) return `join ${joined.status} ${JSON.stringify(joined.body)}`;
    const read = await server.call<{ balance: number }>('GET', `/api/v1/users/${userId}/points`, { token: joined.body.token });
    return read.status === 200 ? String(read.body.balance) : `read ${read.status} ${JSON.stringify(read.body)}`;
  } catch (error) {
    return `no answer (${String(error)})`;
  }
}

describe('a second embedded server on the same DATA_DIR', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'boxoffice-fault-datadir-'));
  const servers: EmbeddedServer[] = [];
  const start = (port: number) => {
    const s = new EmbeddedServer(dataDir, port);
    servers.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start naming DATA_DIR while the first serves, and a SIGKILLed owner leaves the directory usable with every acknowledged top-up', async () => {
    if (!existsSync(serverEntry)) throw new Error('dist/src/server.js is missing: run npm run build before npm run test:faults');
    const [portA, portB, portC] = await freePorts(3);

    const first = start(portA!);
    await first.waitReady();
    const { userId, balance } = await topUp(first, [1_000, 20_000, 300_000]);

    // The second one, same directory: it must give up quickly and say why.
    const second = start(portB!);
    let secondBecameReady = false;
    await Promise.race([
      second.exited,
      sleep(REFUSAL_MS),
      second.waitReady(REFUSAL_MS).then(
        () => (secondBecameReady = true),
        () => undefined,
      ),
    ]);
    const secondExit = second.exit
      ? `exited code ${second.exit.code} signal ${second.exit.signal} after ${second.exitedAt - second.startedAt} ms`
      : `still running after ${Date.now() - second.startedAt} ms`;
    // Ready or not, it must not outlive the check: two processes on one PGlite directory corrupt it.
    await second.kill();
    const namedDataDir = second.output.includes('DATA_DIR');

    const firstStill = await balanceOf(first, userId);
    const firstReady = await first.call('GET', '/readyz').then(
      (r) => r.status,
      () => 0,
    );

    // The owner crashes: no goodbye, no unlock. The next server must start on the same directory.
    await first.kill();
    const third = start(portC!);
    let thirdStart = 'ready';
    await third.waitReady().catch((e: unknown) => (thirdStart = `did not start: ${String(e).slice(0, 300)}`));
    const thirdReadyMs = (third.alive ? Date.now() : third.exitedAt) - third.startedAt;
    const afterCrash = third.alive ? await balanceOf(third, userId) : 'n/a';

    console.log(
      `[fault data-dir-lock] second server: ${secondExit}${secondBecameReady ? ' (it became READY on the same directory)' : ''}, output names DATA_DIR: ${namedDataDir ? 'yes' : 'no'}` +
        ` | first kept serving: readyz ${firstReady}, balance ${firstStill} of ${balance} acknowledged` +
        ` | after SIGKILL of the first: new server ${thirdStart} in ${thirdReadyMs} ms, balance ${afterCrash} of ${balance} acknowledged`,
    );
    if (!namedDataDir) console.log(`[fault data-dir-lock] the second server's output:\n${second.output.slice(-2_000)}`);

    expect.soft(second.exit?.code ?? 0, 'the second server exits non-zero').not.toBe(0);
    expect.soft(secondExit, `the second server exits within ${REFUSAL_MS} ms`).toMatch(/^exited code [1-9]/);
    expect.soft(secondBecameReady, 'the second server never serves on the same directory').toBe(false);
    expect.soft(namedDataDir, 'the second server says DATA_DIR is the problem').toBe(true);
    expect.soft(firstReady, 'the first server keeps serving').toBe(200);
    expect.soft(firstStill, 'the first server still has the balance').toBe(String(balance));
    expect.soft(thirdStart, 'a server starts on the directory of a SIGKILLed owner').toBe('ready');
    expect(afterCrash, 'every acknowledged top-up survives the crash').toBe(String(balance));
  });
});
