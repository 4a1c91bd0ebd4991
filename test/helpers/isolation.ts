/**
 * Which test files run in a fresh process of their own, and why.
 *
 * `npm test` runs most files without per-file isolation: each of the two test workers loads
 * TensorFlow.js, MuJoCo WASM and the CLI once and runs file after file in the same process
 * (vitest.config.ts, project "shared"). Loading those per file was about a sixth of the suite's
 * CPU time. A file belongs here, in the "isolated" project, when it changes something the next
 * file in the same process would see:
 * - it mocks a module (vi.mock / vi.doMock act only on modules not yet loaded);
 * - it writes process.env;
 * - it selects a tensor backend other than WASM, or tests what happens before any backend is chosen
 *   or warnings given once per process.
 * test/isolation.test.ts finds the first two kinds and the backend choices by reading the files;
 * test/helpers/shared_file_guard.ts fails a shared file that leaves process.env, the working folder,
 * process listeners or the tensor backend changed when it ends, or tensors allocated.
 */
export const ISOLATED_FILES: readonly string[] = [
  // vi.mock
  'test/cli_reference.test.ts',
  'test/agents/train_kcenter_centres.test.ts',
  'test/agents/iql_read.test.ts',
  'test/reward/labels_stream.test.ts',
  'test/reward/offline_memory.test.ts',
  // process.env
  'test/viewer/serve_cli.test.ts',
  'test/viewer/e2e.test.ts',
  'test/reward/vlm.test.ts',
  // tensor backend: another kind, or the state before one is chosen
  'test/core/backend.test.ts',
  'test/ignored_flags.test.ts',
  'test/docs_library_errors.test.ts',
];
