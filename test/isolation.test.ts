/**
 * The shared test process (vitest.config.ts) is safe only if the files that change process-wide
 * state run isolated. This reads every test file and checks that each one that mocks modules,
 * writes process.env or picks a non-WASM tensor backend is listed in test/helpers/isolation.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATED_FILES } from './helpers/isolation.js';

const ROOT = join(import.meta.dirname, '..');

/** Why a test file's source needs a process of its own, or [] when nothing found says so. */
export function needsIsolation(source: string): string[] {
  const why: string[] = [];
  if (/\bvi\s*\.\s*(mock|doMock|unmock)\s*\(/.test(source)) why.push('mocks a module');
  if (/process\.env(\.\w+|\[[^\]]+\])\s*=(?!=)|delete\s+process\.env|Object\.assign\(\s*process\.env|vi\.stubEnv\(/.test(source)) {
    why.push('writes process.env');
  }
  if (/initBackend\(\s*['"](cpu|gpu|node)['"]|['"]--backend['"]\s*,\s*['"](cpu|gpu|node)['"]|--backend[= ](cpu|gpu|node)\b/.test(source)) {
    why.push('chooses a non-WASM tensor backend');
  }
  return why;
}

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith('.test.ts')) out.push(relative(ROOT, path));
  }
  return out.sort();
}

describe('needsIsolation (the patterns it reads)', () => {
  it('finds module mocks, process.env writes and non-WASM backends', () => {
    expect(needsIsolation("vi.mock('../../core/x.js', () => ({}));")).toEqual(['mocks a module']);
    expect(needsIsolation('vi.doMock("a")')).toEqual(['mocks a module']);
    expect(needsIsolation('process.env.PREFRL_X = "1";')).toEqual(['writes process.env']);
    expect(needsIsolation("process.env['TMPDIR'] = dir;")).toEqual(['writes process.env']);
    expect(needsIsolation('delete process.env.HOME;')).toEqual(['writes process.env']);
    expect(needsIsolation("await initBackend('cpu');")).toEqual(['chooses a non-WASM tensor backend']);
    expect(needsIsolation("run([...flags, '--backend', 'cpu'])")).toEqual(['chooses a non-WASM tensor backend']);
    expect(needsIsolation("vi.mock('x'); process.env.A = 'b'; initBackend('node')")).toEqual([
      'mocks a module',
      'writes process.env',
      'chooses a non-WASM tensor backend',
    ]);
  });

  it('leaves reads, comparisons, spies and the WASM backend alone', () => {
    expect(needsIsolation('const t = process.env.TMPDIR;')).toEqual([]);
    expect(needsIsolation("if (process.env.CI === 'true') skip();")).toEqual([]);
    expect(needsIsolation("vi.spyOn(LabelStore.prototype, 'getPairs')")).toEqual([]);
    expect(needsIsolation("await initBackend('wasm'); await initBackend('auto');")).toEqual([]);
    expect(needsIsolation("['--backend', 'wasm']")).toEqual([]);
  });
});

describe('test files that change process-wide state run isolated', () => {
  const files = testFiles(join(ROOT, 'test'));

  it('lists only files that exist, once each', () => {
    expect(files.length).toBeGreaterThan(100);
    for (const f of ISOLATED_FILES) expect(existsSync(join(ROOT, f)), f).toBe(true);
    expect(new Set(ISOLATED_FILES).size).toBe(ISOLATED_FILES.length);
  });

  it('isolates every file whose source mocks modules, writes process.env or picks a non-WASM backend', () => {
    const missing = files
      // This file's own source holds the patterns as examples.
      .filter((f) => !ISOLATED_FILES.includes(f) && f !== 'test/isolation.test.ts')
      .map((f) => ({ f, why: needsIsolation(readFileSync(join(ROOT, f), 'utf8')) }))
      .filter((x) => x.why.length)
      .map((x) => `${x.f}: ${x.why.join(', ')}`);
    expect(missing, 'add these to ISOLATED_FILES in test/helpers/isolation.ts').toEqual([]);
  });
});
