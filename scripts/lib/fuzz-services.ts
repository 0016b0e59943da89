// Throwaway backing services for `npm run fuzz -- --postgres --redis`: a database of its own on the
// local PostgreSQL and a key prefix of its own on the local Redis, both removed at clean-up (which
// also runs on Ctrl-C; see service.ts).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { deleteRedisKeys, onCleanUp, postgresAdminUrl, redisUrl } from './service.js';

/** Creates an empty database and returns its URL; it is dropped at clean-up. */
export async function throwawayDatabase(label: string): Promise<string> {
  const name = `boxoffice_${label}_${randomBytes(4).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: postgresAdminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  onCleanUp(() => admin(`drop database if exists ${name} with (force)`));
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh key prefix on the local Redis; its keys are deleted at clean-up. */
export function throwawayRedisPrefix(label: string): { url: string; prefix: string } {
  const prefix = `${label}:${randomBytes(4).toString('hex')}:`;
  onCleanUp(() => deleteRedisKeys(prefix));
  return { url: redisUrl, prefix };
}
