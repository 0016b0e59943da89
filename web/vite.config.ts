// Builds the fan page (/) and the operator page (/admin) into dist/web with hashed assets.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
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
