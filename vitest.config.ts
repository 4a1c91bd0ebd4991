import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // MuJoCo WASM and tfjs load per worker; two workers match the two cores of CI machines.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // TMPDIR: one folder per run, removed at its end (the tests' mkdtemp folders go with it).
    globalSetup: ['test/helpers/run_tmpdir.ts'],
  },
});
