// The embedded default keeps what a fan and an operator rely on over a restart: the line (every place,
// in order), the operator's pause and limit, and the tokens. A crash may lose the last seconds of
// joins; those fans are told LINE_RESET, not that their token is forged. Runs on the embedded database
// only (it restarts the app on the same DATA_DIR).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { ADMIN_KEY, bearer, createUser, joinQueue, json, waitFor } from '../helpers/test-app.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(Boolean(process.env.DATABASE_URL))('an embedded restart', () => {
  const admin = { 'x-admin-key': ADMIN_KEY };

  async function start(dataDir: string): Promise<App> {
    const app = await buildApp(testConfig({ dataDir, adminKey: ADMIN_KEY }));
    await app.app.ready();
    return app;
  }

  async function poll(app: App, token: string) {
    return app.app.inject({ method: 'GET', url: '/api/v1/queue/tokens/me', headers: bearer(token) });
  }

  it("keeps the line, the tokens and the operator's settings; fans who joined after the last snapshot get LINE_RESET", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'boxoffice-restart-'));
    dirs.push(dataDir);

    const first = await start(dataDir);
    let saved: { state: string; tokens: { line: string; token_id: string; body: string }[] };
    const tokens: string[] = [];
    let late: string;
    try {
      await first.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { activeLimit: 1, paused: true } });
      for (let i = 0; i < 3; i++) tokens.push((await joinQueue(first.app, await createUser(first.app))).token);
      // Wait for a snapshot holding the three, as the timer writes it while the app runs.
      saved = await waitFor(
        async () => {
          const rows = await first.db.selectFrom('queue_snapshot_tokens').selectAll().execute();
          expect(rows).toHaveLength(3);
          const state = await first.db.selectFrom('queue_snapshots').select('body').executeTakeFirstOrThrow();
          return { state: state.body, tokens: rows };
        },
        10_000,
        100,
      );
      late = (await joinQueue(first.app, await createUser(first.app))).token;
    } finally {
      await first.app.close();
    }

    // A crash: the last snapshot is the one before the late fan joined (close wrote a newer one).
    const db = await openDatabase({ databaseUrl: undefined, dataDir });
    try {
      expect(await db.selectFrom('queue_snapshot_tokens').select('token_id').execute()).toHaveLength(4);
      await db.updateTable('queue_snapshots').set({ body: saved.state }).execute();
      await db.deleteFrom('queue_snapshot_tokens').execute();
      await db.insertInto('queue_snapshot_tokens').values(saved.tokens).execute();
    } finally {
      await db.destroy();
    }

    const second = await start(dataDir);
    try {
      const views = await Promise.all(tokens.map(async (t) => json(await poll(second, t))));
      expect(views.map((v) => [v.status, v.position])).toEqual([
        ['WAITING', 1],
        ['WAITING', 2],
        ['WAITING', 3],
      ]);
      const lost = await poll(second, late);
      expect(lost.statusCode).toBe(401);
      expect(json(lost).error.code).toBe('LINE_RESET');
      const stats = json(await second.app.inject({ method: 'GET', url: '/admin/v1/queue', headers: admin }));
      expect(stats).toMatchObject({ activeLimit: 1, paused: true, waiting: 3 });

      await second.app.inject({ method: 'PATCH', url: '/admin/v1/queue', headers: admin, payload: { paused: false } });
      await waitFor(async () => expect(json(await poll(second, tokens[0]!)).status).toBe('ACTIVE'));
      expect(json(await poll(second, tokens[1]!))).toMatchObject({ status: 'WAITING', position: 1 });
    } finally {
      await second.app.close();
    }
    // Two embedded databases made from nothing on disk: slow on a loaded machine.
  }, 120_000);
});
