// One boxoffice process per embedded data directory. PGlite takes no lock of its own, so two processes
// on one DATA_DIR would both run and one's acknowledged writes would be lost. The lock is a file in
// the directory holding the owner's pid, created exclusively; an owner that died (even by SIGKILL)
// leaves a file whose pid is gone, and the next process takes it over.
import { unlinkSync, readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../config.js';

export const LOCK_FILE_NAME = 'boxoffice.lock';

/**
 * A lock file with no pid yet is another process between creating and writing it, unless it is older
 * than this: then its owner died in that instant and the file is stale.
 */
const UNWRITTEN_GRACE_MS = 10_000;

/** A ConfigError, so start-up reports it in one line like any other bad setting. */
export class DataDirInUseError extends ConfigError {
  constructor(
    message: string,
    /** The pid recorded in the lock file, when there is one. */
    readonly pid: number | undefined,
  ) {
    super(message);
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file (if it is still ours). Safe to call twice. */
  release(): Promise<void>;
}

/** Lock files this process holds, so a second open here is refused and an exit removes them. */
const held = new Set<string>();
let exitHookInstalled = false;

interface Owner {
  pid: number | undefined;
  mtimeMs: number;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE_NAME);
  if (held.has(file)) throw inUse(dataDir, process.pid, true);
  await mkdir(dir, { recursive: true });

  // Two rounds: the second follows a takeover of a stale file (or a file whose owner just released it).
  for (let round = 0; round < 2; round++) {
    if (await create(file)) return hold(file);
    const owner = await readOwner(file);
    if (owner === undefined) continue;
    if (isLive(owner, file) || round === 1) throw inUse(dataDir, owner.pid, owner.pid === process.pid);
    await removeStale(dataDir, file, owner);
  }
  throw inUse(dataDir, (await readOwner(file))?.pid, false);
}

async function create(file: string): Promise<boolean> {
  try {
    await writeFile(file, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    const pid = Number(text.trim());
    return { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined, mtimeMs: info.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isLive(owner: Owner, file: string): boolean {
  if (owner.pid === undefined) return Date.now() - owner.mtimeMs < UNWRITTEN_GRACE_MS;
  // Our own pid in a file we do not hold is a previous life of this pid (a container's pid 1 restarting).
  if (owner.pid === process.pid) return held.has(file);
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Moves the stale file aside rather than deleting it, so that of two processes taking over at once only
 * one moves the dead owner's file; the other would move the winner's fresh file, sees so, and puts it back.
 */
async function removeStale(dataDir: string, file: string, stale: Owner): Promise<void> {
  const aside = `${file}.stale-${process.pid}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readOwner(aside);
  if (moved !== undefined && moved.pid !== stale.pid) {
    await link(aside, file).catch(() => undefined);
    await rm(aside, { force: true });
    throw inUse(dataDir, moved.pid, false);
  }
  await rm(aside, { force: true });
}

function hold(file: string): DataDirLock {
  held.add(file);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A process that exits without closing its database (an uncaught error) still frees its directory.
    process.once('exit', () => {
      for (const f of held) unlinkIfOurs(f);
    });
  }
  return {
    file,
    release: async () => {
      if (!held.delete(file)) return;
      const owner = await readOwner(file);
      if (owner?.pid === process.pid) await rm(file, { force: true });
    },
  };
}

function unlinkIfOurs(file: string): void {
  try {
    if (Number(readFileSync(file, 'utf8').trim()) === process.pid) unlinkSync(file);
  } catch {
    // Exiting anyway; a file left behind names a dead pid and is taken over next time.
  }
}

function inUse(dataDir: string, pid: number | undefined, here: boolean): DataDirInUseError {
  const message = here
    ? `DATA_DIR ${dataDir} is already open in this process (pid ${process.pid}); close it first or choose another DATA_DIR`
    : `DATA_DIR ${dataDir} is in use by another boxoffice process (pid ${pid ?? 'not yet written'}); stop it or choose another DATA_DIR`;
  return new DataDirInUseError(message, pid);
}
