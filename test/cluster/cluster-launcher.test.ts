// `npm run start:cluster`'s launcher (dist/src/cluster.js): it refuses a set-up its workers could not
// share, and its workers on one port serve one line and stop cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterEntry, createUser, expectStatus, join, mapLimit, openEvents, poll, repoRoot, startCluster, type Cluster } from './harness.js';

function runLauncher(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [clusterEntry], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('the cluster launcher', () => {
  it('refuses to start without REDIS_URL or without DATABASE_URL, saying which', async () => {
    const noRedis = await runLauncher({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres', TOKEN_SECRET: 'x'.repeat(32) });
    expect(noRedis.code).toBe(1);
    expect(noRedis.output).toMatch(/REDIS_URL is required/);
    const noDatabase = await runLauncher({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(noDatabase.code).toBe(1);
    expect(noDatabase.output).toMatch(/DATABASE_URL is required/);
  });

  describe('with two workers on one port', () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ size: 1, entry: clusterEntry, env: { WEB_CONCURRENCY: '2', QUEUE_ACTIVE_LIMIT: '0' } });
    });
    afterAll(() => cluster?.stop());

    it('serves one line on one port and exits 0 on SIGTERM', async () => {
      // Concurrent connections are spread over the workers; the places still form one line.
      const users = await mapLimit(Array.from({ length: 20 }), 20, () => createUser(cluster));
      const joined = await Promise.all(users.map(async (u) => expectStatus(await join(cluster, u), 201)));
      expect(joined.map((j) => j.position).sort((a, b) => a - b)).toEqual(users.map((_, i) => i + 1));

      const first = joined.find((j) => j.position === 1)!;
      const stream = await openEvents(cluster, first.token, 0);
      try {
        await stream.next((d) => d.status === 'WAITING');
        expectStatus(await cluster.call('PATCH', '/admin/v1/queue', { admin: true, body: { activeLimit: 1 } }), 200);
        await stream.next((d) => d.status === 'ACTIVE', 1_000);
        expect(expectStatus(await poll(cluster, first.token), 200).status).toBe('ACTIVE');
      } finally {
        stream.close();
      }

      expect(await cluster.terminate(0)).toEqual({ code: 0, signal: null });
    });
  });
});
