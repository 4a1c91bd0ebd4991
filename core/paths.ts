/**
 * Locating files that ship with prefrl (MJCF assets, the viewer build) whether the code runs
 * from TypeScript sources (tests) or from the compiled dist/ folder (CLI).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | null = null;

/** The folder holding prefrl's package.json. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'prefrl') {
          cachedRoot = dir;
          return dir;
        }
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('prefrl: cannot find the package root (package.json named "prefrl")');
    dir = parent;
  }
}

/** Absolute path of a file inside the package, e.g. asset('envs/assets/cheetah.xml'). */
export function asset(relative: string): string {
  return join(packageRoot(), relative);
}

/** True when this module is running from TypeScript sources rather than dist/. */
export function runningFromSource(): boolean {
  return import.meta.url.endsWith('.ts');
}
