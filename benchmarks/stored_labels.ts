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
