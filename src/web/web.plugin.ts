// Serves the built fan page (/) and operator page (/admin) from dist/web. Hashed assets are
// cached for a year; the HTML is revalidated every time so a new build is picked up at once.
// Only the files that exist at start-up get routes, so unknown paths (and all of /api) still
// reach the app's JSON not-found handler.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

export interface WebOptions {
  /** The folder the front-end build wrote (dist/web). */
  root: string;
}

const yearSeconds = 365 * 24 * 60 * 60;

/** dist/web under the repository root, found from this file in src/web or dist/src/web. */
export function defaultWebRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve('dist', 'web');
    dir = parent;
  }
  return path.join(dir, 'dist', 'web');
}

/** What Vite serves in dev mode: the two pages, their modules and its own client; everything else is the service's. */
const VITE_PATHS = /^\/(index\.html|admin(\.html)?)?(\?|$)|^\/(@|src\/|node_modules\/)/;

/**
 * `npm run dev`: the pages from web/ through Vite's dev server in middleware mode, on the service's
 * own port, with hot reload over the same server. Vite is a development dependency, loaded only here.
 */
export async function registerDevWeb(app: FastifyInstance): Promise<void> {
  const { createServer } = await import('vite');
  const repoRoot = path.dirname(path.dirname(defaultWebRoot()));
  const vite = await createServer({
    configFile: path.join(repoRoot, 'web', 'vite.config.ts'),
    appType: 'mpa',
    server: { middlewareMode: true, hmr: { server: app.server } },
  });
  app.addHook('onClose', async () => vite.close());
  app.addHook('onRequest', (request, reply, done) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || !VITE_PATHS.test(request.url)) return done();
    if (request.url === '/admin' || request.url.startsWith('/admin?')) request.raw.url = request.url.replace('/admin', '/admin.html');
    reply.hijack();
    // The headers hooks set so far (helmet's) go out with Vite's answer too.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
    vite.middlewares(request.raw, reply.raw);
  });
}

function setCacheHeaders(reply: FastifyReply, filePath: string): void {
  const immutable = filePath.split(path.sep).includes('assets');
  reply.header('cache-control', immutable ? `public, max-age=${yearSeconds}, immutable` : 'no-cache');
}

export async function registerWeb(app: FastifyInstance, options: WebOptions): Promise<void> {
  const root = path.resolve(options.root);
  // Tests and API-only runs may never build the pages; then there is nothing to serve.
  if (!existsSync(path.join(root, 'index.html'))) return;

  await app.register(async (web) => {
    await web.register(fastifyStatic, {
      root,
      wildcard: false,
      index: ['index.html'],
      cacheControl: false,
      // The build writes .br and .gz next to each file; send those to clients that accept them.
      preCompressed: true,
      globIgnore: ['**/*.br', '**/*.gz'],
      etag: true,
      lastModified: true,
      setHeaders: setCacheHeaders,
    });
    if (existsSync(path.join(root, 'admin.html'))) {
      web.get('/admin', { schema: { hide: true } }, (_request, reply) => reply.sendFile('admin.html'));
    }
  });
}
