/**
 * The pairs and labels a run stored (its labels.sqlite), in the order they were asked, up to
 * `maxPrefs` preference labels (skips among them kept): what the online loop had when its
 * selection ran at that count. Shared by the input-selection benchmark scripts, with their
 * command line (`runArgs`).
 */
import { join } from 'node:path';
import { openLabelStore } from '../reward/store.js';
import type { Label, Pair } from '../reward/types.js';

export function storedLabels(run: string, maxPrefs = Infinity): { pairs: Pair[]; labels: Label[]; prefs: number } {
  const store = openLabelStore(join(run, 'labels.sqlite'), { create: false });
  const all = store.labelledPairs();
  store.close();
  const pairs: Pair[] = [];
  const labels: Label[] = [];
  let prefs = 0;
  for (const lp of all) {
    for (const l of lp.labels) {
      if (prefs >= maxPrefs) break;
      pairs.push(lp.pair);
      labels.push(l);
      if (l.kind !== 'skip') prefs++;
    }
  }
  return { pairs, labels, prefs };
}

/**
 * The command line of a script that reads a run folder: `<run folder> [--name value]...`.
 * Without a run folder it prints `usage` and exits with status 2. `opt(name, def)` is the value
 * after `--name`, or `def`.
 */
export function runArgs(usage: string): { args: string[]; run: string; opt: (name: string, def: string) => string } {
  const args = process.argv.slice(2);
  const run = args[0];
  if (!run || run.startsWith('--')) {
    process.stderr.write(usage);
    process.exit(2);
  }
  const opt = (name: string, def: string): string => {
    const i = args.indexOf(`--${name}`);
    return i > 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  return { args, run, opt };
}

/**
 * A numeric option of such a script: `--name value` (or `def`), a number >= `min`, whole unless
 * `integer` is false (Infinity passes as "no limit" where the default is Infinity). Anything else
 * prints `<script>: --name: expected ..., got ...` and the usage line, and exits with status 2.
 */
export function numOpt(script: string, usage: string, opt: (name: string, def: string) => string, name: string, def: string, min: number, integer = true): number {
  const text = opt(name, def);
  const v = Number(text);
  const whole = Number.isInteger(v) || (v === Infinity && def === 'Infinity');
  if (text.trim() === '' || !(v >= min) || (integer && !whole)) {
    process.stderr.write(`${script}: --${name}: expected ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(text)}\n${usage}`);
    process.exit(2);
  }
  return v;
}

/**
 * The run's stored labels for a script, or one line `<script>: <what is wrong>` and exit status 1:
 * a folder without a label store, a store that is not one, or one without preference labels.
 * Read before the tensor backend starts: an error thrown after the WASM backend's start-up reaches
 * its uncaught-exception handler, which prints a line of its minified source instead.
 */
export function scriptLabels(script: string, run: string, maxPrefs = Infinity): ReturnType<typeof storedLabels> {
  try {
    const got = storedLabels(run, maxPrefs);
    if (got.prefs === 0) throw new Error(`${join(run, 'labels.sqlite')}: no preference labels (a run of a learned reward stores them; ${got.labels.length} skips)`);
    return got;
  } catch (e) {
    return scriptFail(script, e);
  }
}

/** Print `<script>: <message>` on stderr and exit with status 1. */
export function scriptFail(script: string, e: unknown): never {
  process.stderr.write(`${script}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
