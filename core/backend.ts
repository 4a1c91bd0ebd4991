/**
 * TensorFlow.js backend selection. Preference order for `auto`: the native GPU binding
 * (@tensorflow/tfjs-node-gpu), the native CPU binding (@tensorflow/tfjs-node), then the WASM
 * backend (SIMD; the default on machines where the native bindings could not be installed),
 * then plain JS (`cpu`). The native bindings are optionalDependencies: when their install
 * failed, npm dropped them and importing them fails here, which is expected.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendChoice } from './backend_names.js';
import { UsageError } from './errors.js';

export { BACKENDS, type BackendChoice } from './backend_names.js';

export interface BackendInfo {
  /** The tfjs backend name in use (tensorflow, wasm or cpu). */
  readonly name: string;
  /** Which choice provided it (gpu, node, wasm, cpu). */
  readonly kind: Exclude<BackendChoice, 'auto'>;
  /** Why better backends were not used (empty when the first choice worked). */
  readonly skipped: readonly string[];
}

let current: BackendInfo | null = null;

async function tryNative(pkg: string): Promise<string | null> {
  try {
    await import(pkg);
    return null;
  } catch (e) {
    return `${pkg} not available (${(e as Error).message.split('\n')[0]})`;
  }
}

const CRASH_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

async function useWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  // main is .../tfjs-backend-wasm/dist/tf-backend-wasm.node.js; the .wasm files sit beside it.
  wasm.setWasmPaths(`${join(dirname(main), '/')}`);
  // The backend's Emscripten module adds process-wide uncaughtException and unhandledRejection
  // handlers that throw the error again: a script's own uncaught error then exited with code 7
  // and printed the module's whole minified source line (about 38 kB) above its stack. Removing
  // the handlers it added gives Node's own report (exit code 1); nothing of the backend uses them.
  const events: NodeJS.EventEmitter = process;
  const before = new Map(CRASH_EVENTS.map((e) => [e, events.listeners(e)]));
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  } finally {
    for (const e of CRASH_EVENTS) {
      for (const l of events.listeners(e)) if (!before.get(e)?.includes(l)) events.removeListener(e, l as (...args: unknown[]) => void);
    }
  }
}

/**
 * Select and initialise a backend. Once one is in use, a call with 'auto' or its own kind returns
 * it unchanged; a call forcing another kind switches TensorFlow.js to that one. Throws a
 * UsageError when a forced backend cannot be used.
 */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (current && (choice === 'auto' || choice === current.kind)) return current;
  const skipped: string[] = [];
  const order: Exclude<BackendChoice, 'auto'>[] = choice === 'auto' ? ['gpu', 'node', 'wasm', 'cpu'] : [choice];
  for (const kind of order) {
    try {
      if (kind === 'gpu' || kind === 'node') {
        const why = await tryNative(kind === 'gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
        if (why) throw new Error(why);
        if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend failed to initialise');
      } else if (kind === 'wasm') {
        await useWasm();
      } else {
        if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
      }
      await tf.ready();
      current = { name: tf.getBackend(), kind, skipped };
      return current;
    } catch (e) {
      skipped.push(`${kind}: ${(e as Error).message}`);
    }
  }
  throw new UsageError(`--backend ${choice}: not available here (${skipped.join('; ')})`);
}

/**
 * The start-up line: `tensor backend: wasm (not installed: @tensorflow/tfjs-node-gpu,
 * @tensorflow/tfjs-node)`. A better backend that is installed but failed keeps its reason.
 */
export function describeBackend(info: BackendInfo): string {
  const missing: string[] = [];
  const failed: string[] = [];
  for (const s of info.skipped) {
    const m = /^\w+: (\S+) not available \(Cannot find (?:package|module)\b/.exec(s);
    if (m) missing.push(m[1]);
    else failed.push(s);
  }
  const notes = [...(missing.length ? [`not installed: ${missing.join(', ')}`] : []), ...failed];
  return `tensor backend: ${info.name}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

let warnedWithout = false;

/**
 * Called where tensors are first made (reward networks, IQL, BC): once per process, a warning
 * when initBackend has not run. TensorFlow.js then falls back to its plain-JS backend, which
 * trained the README's example reward model about 25 times slower than WASM in one uncommitted
 * measurement (5.5 min against 13 s), and
 * its own start-up note suggests installing tfjs-node, not calling initBackend.
 */
export function warnWithoutBackend(what: string): void {
  if (current || warnedWithout) return;
  warnedWithout = true;
  process.emitWarning(`${what} before initBackend(): TensorFlow.js falls back to its plain-JS backend, many times slower than WASM; call \`await initBackend()\` once first`, 'PrefrlWarning');
}

/** The backend chosen by initBackend, or null before it ran. */
export function currentBackend(): BackendInfo | null {
  return current;
}
