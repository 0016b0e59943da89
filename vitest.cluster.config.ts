// The multi-instance tests: each file starts three built server processes on one PostgreSQL database and
// one Redis, so files run one at a time. Run `npm run build` first; the harness says so if dist is missing.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
