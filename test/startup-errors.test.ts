// A newcomer's mistakes at start-up are told in one line naming the setting: a busy port, a HOST that
// is not this machine's, an unusable DATA_DIR, an unreachable PostgreSQL or Redis, a bad LOG_LEVEL.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { ConfigError, loadConfig, testConfig } from '../src/config.js';
import { listenFailure } from '../src/startup-errors.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'boxoffice-startup-'));
  dirs.push(dir);
  return dir;
}

async function startupError(config: Parameters<typeof testConfig>[0]): Promise<Error> {
  const error = await buildApp(testConfig(config)).then(
    async ({ app }) => {
      await app.close();
      return undefined;
    },
    (err: unknown) => err as Error,
  );
  if (!error) throw new Error('the app started');
  return error;
}

describe('start-up failures', () => {
  it('names DATA_DIR when it cannot hold the embedded database (a file, a damaged directory)', async () => {
    const file = path.join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    expect(() => loadConfig({ DATA_DIR: path.join(file, 'data') })).toThrow(/^DATA_DIR ".*" is not a writable directory/);

    const damaged = tempDir();
    writeFileSync(path.join(damaged, 'PG_VERSION'), 'garbage\n');
    const error = await startupError({ dataDir: damaged });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^DATA_DIR ".*" cannot hold the embedded database: .+\. Point DATA_DIR at a writable directory/);
  });

  it('names DATABASE_URL, without its password, when PostgreSQL cannot be reached', async () => {
    const error = await startupError({ databaseUrl: 'postgres://boxoffice:secret-pw@127.0.0.1:1/boxoffice' });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^cannot use PostgreSQL at DATABASE_URL postgres:\/\/boxoffice:\*\*\*@127\.0\.0\.1:1\/boxoffice: .*ECONNREFUSED/);
    expect(error.message).not.toContain('secret-pw');
  });

  it('names REDIS_URL when Redis cannot be reached', async () => {
    const error = await startupError({ redisUrl: 'redis://127.0.0.1:1' });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^cannot reach Redis at REDIS_URL redis:\/\/127\.0\.0\.1:1: /);
  });

  it('names PORT for a busy port and HOST for an address that is not this machine', () => {
    const config = { port: 3000, host: '127.0.0.1' };
    expect(listenFailure(config, Object.assign(new Error('x'), { code: 'EADDRINUSE' }))?.message).toMatch(
      /^port 3000 on 127\.0\.0\.1 is already in use: .*set PORT/,
    );
    expect(listenFailure({ port: 3000, host: '10.255.255.1' }, Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' }))?.message).toMatch(
      /^cannot listen on HOST "10\.255\.255\.1"/,
    );
    expect(listenFailure(config, new Error('something else'))).toBeUndefined();
  });

  it('exits 1 with one line, no stack trace, when the port is taken', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: 'memory://', DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(`boxoffice: port ${port} on 127.0.0.1 is already in use: stop what holds it, or set PORT to a free port`);
    } finally {
      holder.close();
    }
  }, 60_000);
});
