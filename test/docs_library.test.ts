/**
 * docs/library.md documents exactly what index.ts exports:
 * - every name index.ts exports (values and types, under the name a script imports) has an entry
 *   in docs/library.md, a list item that starts with the name in bold code: "- **`makeEnv`**";
 * - every entry, and every name a code block there imports from 'prefrl', is a name index.ts
 *   exports (so a renamed or removed export leaves no stale entry behind);
 * - no name has two entries, and the entries come under the same group headings as index.ts's
 *   comment lines group the exports, in the same order;
 * - each code block is an excerpt of the file its first line names, a docs/examples/ script or a
 *   test (every line is in that file), so the snippets are code that type-checks and runs.
 * Both files are parsed as text (no build needed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..');

/** The public names of each `export { ... } from '...'` statement of index.ts, in order, with the comment line above the group. */
export function indexExports(text: string): { name: string; group: string }[] {
  const out: { name: string; group: string }[] = [];
  let group = '';
  let previousWasComment = false;
  let statement: string | null = null;
  for (const line of text.split('\n')) {
    // A run of `//` lines starts a group at its first line (a second line is a note on the same group).
    const comment = /^\/\/ (.+)$/.exec(line);
    if (comment && !previousWasComment) group = comment[1];
    previousWasComment = comment !== null;
    if (statement === null && /^export\b/.test(line)) {
      if (!/^export\s+(type\s+)?\{/.test(line)) throw new Error(`index.ts: an export form this test does not read: ${line}`);
      statement = '';
    }
    if (statement === null) continue;
    statement += `${line}\n`;
    const m = /^export\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'[^']+';/.exec(statement);
    if (m === null) continue;
    statement = null;
    for (const raw of m[1].split(',')) {
      const part = raw.trim().replace(/^type\s+/, '');
      if (part === '') continue;
      const spec = /^(\w+)(?:\s+as\s+(\w+))?$/.exec(part);
      if (spec === null) throw new Error(`index.ts: cannot read the export "${part}"`);
      out.push({ name: spec[2] ?? spec[1], group });
    }
  }
  if (statement !== null) throw new Error(`index.ts: an export statement with no end: ${statement}`);
  return out;
}

/** The entries of docs/library.md ("- **`name`**" list items) with the `## ` heading they sit under. */
export function docEntries(text: string): { name: string; group: string }[] {
  const out: { name: string; group: string }[] = [];
  let group = '';
  const prose = text.replace(/```[\s\S]*?```/g, '');
  for (const line of prose.split('\n')) {
    const h = /^## (.+)$/.exec(line);
    if (h) group = h[1].trim();
    const e = /^- \*\*`(\w+)`\*\*/.exec(line);
    if (e) out.push({ name: e[1], group });
  }
  return out;
}

/** Names imported from 'prefrl' in the code blocks of a markdown text. */
export function importedNames(text: string): string[] {
  const names: string[] = [];
  for (const block of text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)) {
    for (const imp of block[1].matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'prefrl'/g)) {
      for (const raw of imp[1].split(',')) {
        const part = raw.trim().replace(/^type\s+/, '');
        if (part !== '') names.push(/^(\w+)/.exec(part)?.[1] ?? part);
      }
    }
  }
  return names;
}

describe('docs/library.md against index.ts', () => {
  const index = indexExports(readFileSync(join(REPO, 'index.ts'), 'utf8'));
  const doc = readFileSync(join(REPO, 'docs', 'library.md'), 'utf8');
  const entries = docEntries(doc);
  const exported = new Set(index.map((e) => e.name));

  it('reads index.ts as it is written (the parse is not vacuous)', () => {
    // Counted from index.ts (a Python split of its export braces): 148 names in 7 groups; a few picked from different statement forms.
    expect(index.length).toBe(148);
    expect(new Set(index.map((e) => e.group)).size).toBe(7);
    for (const name of ['Rng', 'tensorMemory', 'TensorMemoryInfo', 'Physics', 'LabelStoreOpenOptions', 'runOffline', 'RewardTrainResult']) {
      expect(exported.has(name), name).toBe(true);
    }
    expect(exported.has('memory'), 'the name before "as" is not public').toBe(false);
    expect(exported.size, 'a name exported twice').toBe(index.length);
  });

  it('documents every export', () => {
    const documented = new Set(entries.map((e) => e.name));
    expect(index.map((e) => e.name).filter((n) => !documented.has(n)), 'exported by index.ts, no entry in docs/library.md').toEqual([]);
  });

  it('documents nothing index.ts does not export, in entries or in imports from prefrl', () => {
    expect(entries.map((e) => e.name).filter((n) => !exported.has(n)), 'entries of docs/library.md that index.ts does not export').toEqual([]);
    const imported = importedNames(doc);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((n) => !exported.has(n)), "names docs/library.md imports from 'prefrl' that index.ts does not export").toEqual([]);
  });

  it('has one entry per name, under the group index.ts puts it in', () => {
    const seen = entries.map((e) => e.name);
    expect(seen.filter((n, i) => seen.indexOf(n) !== i), 'names with two entries').toEqual([]);
    // Groups in index.ts order; each doc heading names its group's index.ts comment in its first words.
    const indexGroups = [...new Set(index.map((e) => e.group))];
    const docGroups = [...new Set(entries.map((e) => e.group))];
    expect(docGroups).toHaveLength(indexGroups.length);
    const groupOf = new Map(index.map((e) => [e.name, indexGroups.indexOf(e.group)]));
    for (const e of entries) {
      if (!groupOf.has(e.name)) continue; // reported by the test above
      expect(docGroups.indexOf(e.group), `${e.name}: under "${e.group}", index.ts puts it under "${indexGroups[groupOf.get(e.name)!]}"`).toBe(groupOf.get(e.name));
    }
  });
});

/** Code blocks whose first line names a file (`// docs/examples/x.ts`): the file and the block's other lines. */
export function excerpts(text: string): { file: string; lines: string[] }[] {
  return [...text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map((m) => {
    const [first, ...rest] = m[1].split('\n');
    return { file: /^\/\/ (\S+)$/.exec(first)?.[1] ?? '', lines: rest.map((l) => l.trim()).filter((l) => l !== '') };
  });
}

describe('the code blocks of docs/library.md', () => {
  const doc = readFileSync(join(REPO, 'docs', 'library.md'), 'utf8');
  const blocks = excerpts(doc);

  it('are excerpts of the example scripts or tests they name: every line is in the file named', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const b of blocks) {
      // An example script (test/api_examples.test.ts runs it) or a test file: code that type-checks and runs.
      expect(b.file, `a code block of docs/library.md does not name its file on its first line: ${b.lines[0]}`).toMatch(/^(docs\/examples\/\w+\.ts|test\/[\w/]+\.test\.ts)$/);
      const source = new Set(readFileSync(join(REPO, b.file), 'utf8').split('\n').map((l) => l.trim()));
      expect(b.lines.filter((l) => !source.has(l)), `lines of docs/library.md's excerpt of ${b.file} that the file does not hold`).toEqual([]);
    }
  });
});

describe('the parsers of this test', () => {
  it('read renamed, type-only and multi-line exports; a second comment line stays in its group', () => {
    const text = [
      '// Group one.',
      '// A second line: a note on group one.',
      "export { a, type B, c as d } from './x.js';",
      "export type { E } from './y.js';",
      '// Group two.',
      'export {\n  f,\n  type G as H,\n} from \'./z.js\';',
    ].join('\n');
    expect(indexExports(text)).toEqual([
      { name: 'a', group: 'Group one.' },
      { name: 'B', group: 'Group one.' },
      { name: 'd', group: 'Group one.' },
      { name: 'E', group: 'Group one.' },
      { name: 'f', group: 'Group two.' },
      { name: 'H', group: 'Group two.' },
    ]);
    expect(() => indexExports('export const x = 1;\n')).toThrow(/export form/);
  });

  it('read entries outside code blocks only, and imports inside them', () => {
    const md = '## One\n- **`a`** (x): y\n- `b` is not an entry\n```ts\n- **`c`**\nimport { a, type Z } from \'prefrl\';\n```\n## Two\n- **`d`**\n';
    expect(docEntries(md)).toEqual([
      { name: 'a', group: 'One' },
      { name: 'd', group: 'Two' },
    ]);
    expect(importedNames(md)).toEqual(['a', 'Z']);
    expect(excerpts('x\n```ts\n// docs/examples/a.ts\n  const a = 1;\n\nf(a);\n```\n```\nno name\n```\n')).toEqual([
      { file: 'docs/examples/a.ts', lines: ['const a = 1;', 'f(a);'] },
      { file: '', lines: [] },
    ]);
  });
});
