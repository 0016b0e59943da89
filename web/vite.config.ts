// Builds the fan page (/) and the operator page (/admin) into dist/web with hashed assets.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Writes .br and .gz beside each text file, so the server sends them compressed at no CPU cost. */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'boxoffice-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle(_options, bundle) {
      for (const file of Object.keys(bundle).filter((name) => /\.(js|css|html|svg)$/.test(name))) {
        const full = path.join(outDir, file);
        const { source, code } = bundle[file] as { source?: string | Uint8Array; code?: string };
        const bytes = Buffer.from(code ?? source ?? '');
        writeFileSync(`${full}.gz`, gzipSync(bytes, { level: 9 }));
        writeFileSync(`${full}.br`, brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

export default defineConfig({
  plugins: [precompress()],
  root: here('.'),
  base: '/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  // The bot check's solver is a module worker served from /assets like any script: the page's CSP
  // allows workers from 'self' only, so no blob: or inlined workers.
  worker: { format: 'es' },
  // `npx vite --config web/vite.config.ts` serves the pages with hot reload against a server on :3000
  // (the operator page is /admin.html there).
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/admin/v1': 'http://127.0.0.1:3000',
    },
  },
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { index: here('index.html'), admin: here('admin.html') },
      // Code both pages use gets a plain name instead of the first module rollup finds in it.
      output: {
        manualChunks: (id) => (id.includes('node_modules') ? 'preact' : /[\\/]src[\\/](api|i18n|shared)\.tsx?$/.test(id) ? 'shared' : undefined),
      },
    },
  },
});
