// DATA_DIR's lock: one process per embedded data directory, a dead owner's lock taken over, and the
// lock held by an open embedded database until it is destroyed.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { DataDirInUseError, LOCK_FILE_NAME, lockDataDir } from '../../src/db/data-dir-lock.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'boxoffice-lock-'));
  dirs.push(dir);
  return dir;
}

/** The pid of a process that has exited (and was reaped), so nothing answers to it. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

function lockFile(dir: string): string {
  return path.join(dir, LOCK_FILE_NAME);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: Error) => err,
  );
}

describe('the DATA_DIR lock', () => {
  it('refuses a directory another live process holds, naming DATA_DIR, the path and its pid', async () => {
    const dir = await tempDir();
    // The test runner's parent process is alive and is not this one.
    await writeFile(lockFile(dir), `${process.ppid}\n`);
    const err = await rejection(lockDataDir(dir));
    expect(err).toBeInstanceOf(DataDirInUseError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(`DATA_DIR ${dir} is in use by another boxoffice process (pid ${process.ppid}); stop it or choose another DATA_DIR`);
    expect(await readFile(lockFile(dir), 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('refuses a second lock on a directory this process already holds', async () => {
    const dir = await tempDir();
    const lock = await lockDataDir(dir);
    const err = await rejection(lockDataDir(path.join(dir, '.')));
    expect(err).toBeInstanceOf(DataDirInUseError);
    expect(err.message).toMatch(new RegExp(`^DATA_DIR .* is already open in this process \\(pid ${process.pid}\\)`));
    await lock.release();
  });

  it('takes over a lock file whose process is dead', async () => {
    const dir = await tempDir();
    await writeFile(lockFile(dir), `${await deadPid()}\n`);
    const lock = await lockDataDir(dir);
    expect(await readFile(lockFile(dir), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
  });

  it('takes over a file with its own pid that it does not hold (a restarted container reuses its pid)', async () => {
    const dir = await tempDir();
    await writeFile(lockFile(dir), `${process.pid}\n`);
    const lock = await lockDataDir(dir);
    await lock.release();
  });

  it('treats a file without a pid as being written by a starting process, unless it is old', async () => {
    const dir = await tempDir();
    await writeFile(lockFile(dir), '');
    expect(await rejection(lockDataDir(dir))).toBeInstanceOf(DataDirInUseError);
    const aMinuteAgo = new Date(Date.now() - 60_000);
    await utimes(lockFile(dir), aMinuteAgo, aMinuteAgo);
    const lock = await lockDataDir(dir);
    expect(await readFile(lockFile(dir), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
  });

  it('release removes the file and frees the directory for the next owner', async () => {
    const dir = await tempDir();
    const first = await lockDataDir(dir);
    await first.release();
    await expect(stat(lockFile(dir))).rejects.toMatchObject({ code: 'ENOENT' });
    await first.release();
    const second = await lockDataDir(dir);
    await second.release();
  });

  it('creates a DATA_DIR that does not exist yet', async () => {
    const dir = path.join(await tempDir(), 'nested', 'data');
    const lock = await lockDataDir(dir);
    expect(await readFile(lockFile(dir), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
  });

  it('refuses while another real process holds it, and takes it over once that process is killed', async () => {
    const dir = await tempDir();
    const lockModule = new URL('../../src/db/data-dir-lock.ts', import.meta.url).href;
    const code = `const { lockDataDir } = await import(${JSON.stringify(lockModule)}); await lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
        child.once('exit', (exitCode) => reject(new Error(`the child exited (${exitCode}) before taking the lock`)));
      });
      const err = await rejection(lockDataDir(dir));
      expect(err.message).toContain(`in use by another boxoffice process (pid ${child.pid})`);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    // SIGKILL ran no clean-up: the file still names the dead child, and is taken over.
    expect(await readFile(lockFile(dir), 'utf8')).toBe(`${child.pid}\n`);
    const lock = await lockDataDir(dir);
    await lock.release();
  });
});

describe('the embedded database on a directory', () => {
  it('holds DATA_DIR while open, so a second open fails, and frees it on destroy with the data kept', { timeout: 90_000 }, async () => {
    const dir = await tempDir();
    const config = { databaseUrl: undefined, dataDir: dir };
    const db = await openDatabase(config);
    try {
      await sql`create table kept (n int8 not null)`.execute(db);
      await sql`insert into kept values (42)`.execute(db);
      const err = await rejection(openDatabase(config));
      expect(err).toBeInstanceOf(DataDirInUseError);
      expect(err.message).toContain(`DATA_DIR ${dir} is already open in this process`);
    } finally {
      await db.destroy();
    }
    await expect(stat(lockFile(dir))).rejects.toMatchObject({ code: 'ENOENT' });

    const again = await openDatabase(config);
    try {
      expect((await sql<{ n: number }>`select n from kept`.execute(again)).rows).toEqual([{ n: 42 }]);
    } finally {
      await again.destroy();
    }
  });
});
