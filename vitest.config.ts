import { defineConfig } from 'vitest/config';
import { ISOLATED_FILES } from './test/helpers/isolation.js';

export default defineConfig({
  test: {
    // MuJoCo WASM and tfjs load per worker; two workers match the two cores of CI machines.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // TMPDIR: one folder per run, removed at its end (the tests' mkdtemp folders go with it).
    globalSetup: ['test/helpers/run_tmpdir.ts'],
    projects: [
      {
        // Most files: one worker process runs file after file, loading tfjs, MuJoCo and the CLI once.
        // The guard fails a file that leaves process-wide state behind (test/helpers/isolation.ts).
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: [...ISOLATED_FILES],
          isolate: false,
          setupFiles: ['test/helpers/shared_file_guard.ts'],
        },
      },
      {
        // Files that mock modules, write process.env or choose another tensor backend: a fresh process each.
        extends: true,
        test: { name: 'isolated', include: [...ISOLATED_FILES], isolate: true },
      },
    ],
  },
});
