/**
 * Starting a worker thread on a module of this package, from dist/ (compiled JavaScript) or
 * from the TypeScript sources (under tsx or vitest).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { runningFromSource } from './paths.js';

/**
 * What to pass to `new Worker(file, { eval })` to run the module `base` (no extension) that sits
 * next to the module whose `import.meta.url` is `from`: `<base>.js` from the compiled package;
 * from TypeScript sources, a small bootstrap that registers tsx's loader in the worker and then
 * imports `<base>.ts`. (`execArgv: ['--import', 'tsx']` does not work here: on Node 20 tsx
 * registers no hooks inside worker threads.)
 */
export function workerScript(from: string, base: string): { file: URL | string; eval: boolean } {
  if (!runningFromSource()) return { file: new URL(`./${base}.js`, from), eval: false };
  const tsxRoot = pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = new URL('dist/esm/api/index.mjs', tsxRoot).href;
  const target = new URL(`./${base}.ts`, from).href;
  // CommonJS eval code; an import failure becomes the worker's 'error' event.
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
  return { file: code, eval: true };
}
