// The fault suite: each file starts a PostgreSQL cluster and a Redis of its own, three built server
// processes on them, and then stops, kills and restarts those dependencies mid-load, so files run one at
// a time with long timeouts. Run `npm run build` first. The default `vitest run` excludes test/faults.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
