/**
 * Set-up file of the "shared" test project (vitest.config.ts), where one process runs many test
 * files in turn. Each file starts on the WASM tensor backend, whatever ran before it, so a file
 * sees the same backend in every order. When the file ends, spies are restored and the file fails
 * if it left process-wide state changed that the next file would inherit; such a file must clean
 * up or be listed in test/helpers/isolation.ts. Tensors a file leaves allocated fail it too: they
 * stay in the process for every later file, and a test that counts tf.memory() would see them.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, vi } from 'vitest';
import { currentBackend, initBackend } from '../../core/backend.js';

const WATCHED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection', 'warning'] as const;

let envBefore: Record<string, string | undefined> = {};
let cwdBefore = '';
let listenersBefore: Record<string, number> = {};
let tensorsBefore = { count: 0, bytes: 0 };

function listenerCounts(): Record<string, number> {
  return Object.fromEntries(WATCHED_EVENTS.map((e) => [e, process.listenerCount(e)]));
}

beforeAll(async () => {
  await initBackend('wasm');
  envBefore = { ...process.env };
  cwdBefore = process.cwd();
  listenersBefore = listenerCounts();
  const m = tf.memory();
  tensorsBefore = { count: m.numTensors, bytes: m.numBytes };
});

afterAll(() => {
  vi.restoreAllMocks();
  const problems: string[] = [];
  const keys = new Set([...Object.keys(envBefore), ...Object.keys(process.env)]);
  const changed = [...keys].filter((k) => envBefore[k] !== process.env[k]).sort();
  if (changed.length) problems.push(`process.env changed: ${changed.join(', ')}`);
  if (process.cwd() !== cwdBefore) problems.push(`working folder changed: ${cwdBefore} -> ${process.cwd()}`);
  const after = listenerCounts();
  const grew = WATCHED_EVENTS.filter((e) => after[e] !== listenersBefore[e]).map((e) => `${e} ${listenersBefore[e]} -> ${after[e]}`);
  if (grew.length) problems.push(`process listeners changed: ${grew.join(', ')}`);
  const kind = currentBackend()?.kind;
  if (kind !== 'wasm') problems.push(`tensor backend left as ${kind ?? 'none'} (every shared file starts on wasm)`);
  // Counted on the backend the file ends on; a file that changed backends is reported above.
  const m = tf.memory();
  const left = m.numTensors - tensorsBefore.count;
  if (kind === 'wasm' && left > 0) {
    problems.push(`${left} tensor${left === 1 ? '' : 's'} (${m.numBytes - tensorsBefore.bytes} bytes) left allocated: dispose them, or make them in tf.tidy`);
  }
  if (problems.length) {
    throw new Error(
      `this test file runs in the shared test process but left state the next file would inherit: ${problems.join('; ')}. ` +
        'Restore it before the file ends, or list the file in test/helpers/isolation.ts.',
    );
  }
});
