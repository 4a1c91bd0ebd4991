/**
 * docs/developing.md names files, folders and npm scripts: each must exist, so the page cannot
 * point a contributor at something moved or renamed. Checked: every repository path it names
 * (words with a "/" that start with a top-level folder of the repository, or a root file), every
 * `npm run <script>`, and the README's link to it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');
const PAGE = readFileSync(join(REPO, 'docs', 'developing.md'), 'utf8');
const TOP = ['core', 'envs', 'agents', 'reward', 'viewer', 'scripts', 'benchmarks', 'test', 'docs', 'bin', '.ci'];

/** The repository paths the page names: tokens like envs/tasks/common.ts or test/envs/ (globs with * left out). */
function namedPaths(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?<![\w./-])((?:\.ci|[a-z]+)\/[\w./*-]*[\w/*])/g)) {
    const p = m[1];
    if (TOP.includes(p.split('/')[0]) && !p.includes('*')) found.add(p.replace(/\/$/, ''));
  }
  for (const m of text.matchAll(/\b(index\.ts|vitest\.config\.ts|package\.json|tsconfig\.typecheck\.json)\b/g)) found.add(m[1]);
  return [...found].sort();
}

describe('docs/developing.md', () => {
  it('names only paths that exist', () => {
    const paths = namedPaths(PAGE);
    // The page's own anchors: enough of them were found for the check to mean something.
    expect(paths).toEqual(expect.arrayContaining(['envs/registry.ts', 'test/helpers/isolation.ts', 'scripts/command_index.ts', 'docs/library.md', 'index.ts']));
    expect(paths.filter((p) => !existsSync(join(REPO, p)))).toEqual([]);
  });

  it('names only npm scripts that package.json has', () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    const named = [...PAGE.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
    expect(named).toEqual(expect.arrayContaining(['build', 'typecheck', 'docs:cli', 'test:slow']));
    expect(named.filter((n) => !scripts.includes(n))).toEqual([]);
  });

  it('the path check itself: a made-up path is found and reported missing', () => {
    const paths = namedPaths('see envs/tasks/nope.ts and test/helpers/cli.ts, not test/e2e_*.test.ts, http://x/y or a/b');
    expect(paths).toEqual(['envs/tasks/nope.ts', 'test/helpers/cli.ts']);
    expect(paths.filter((p) => !existsSync(join(REPO, p)))).toEqual(['envs/tasks/nope.ts']);
  });

  it('the README links to it', () => {
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toContain('](docs/developing.md)');
  });
});
