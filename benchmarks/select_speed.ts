/**
 * Speed of the reward model's input selection in worker threads against the same selection in
 * the main thread, on the labels a run stored (reward/select.ts; `prefrl train|offline
 * --reward-select-workers`). Each repeat runs both, one after the other (alternating which goes
 * first), checks that they chose the same path with the same cross-validated NLLs, and the
 * script prints the wall times and their ratio.
 *
 *   npx tsx benchmarks/select_speed.ts <run folder> [--max-labels N] [--workers 2] [--repeats 1] [--seed 0] [--json]
 *
 * --max-labels N uses the run's first N preference labels (as the online loop's selection at N).
 */
import './script_errors.js';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { initBackend } from '../core/backend.js';
import { median } from '../core/math.js';
import { Rng } from '../core/rng.js';
import { type InputSelection, selectInputs } from '../reward/select.js';
import { numOpt, runArgs, scriptFail, scriptLabels } from './stored_labels.js';

const usage = 'usage: npx tsx benchmarks/select_speed.ts <run folder> [--max-labels N] [--workers 2] [--repeats 1] [--seed 0] [--json]\n';
const { args, run, opt } = runArgs(usage);
const SCRIPT = 'select_speed.ts';
const num = (name: string, def: string, min: number): number => numOpt(SCRIPT, usage, opt, name, def, min, name !== 'max-labels');
const maxLabels = num('max-labels', 'Infinity', 30);
const workers = num('workers', '2', 1);
const repeats = num('repeats', '1', 1);
const seed = num('seed', '0', 0);

const { pairs, labels, prefs } = scriptLabels(SCRIPT, run, maxLabels);
await initBackend('wasm');
const first = pairs[0].a;
const select = async (w: number): Promise<[InputSelection, number]> => {
  const t0 = performance.now();
  const sel = await selectInputs(pairs, labels, { input: 'obs-action', obsDim: first.obsDim, actDim: first.actDim, rng: new Rng(seed).fork('select-inputs'), workers: w }).catch((e: unknown) => scriptFail(SCRIPT, e));
  return [sel, (performance.now() - t0) / 1000];
};
const load0 = loadavg();
const times: { here: number; workers: number }[] = [];
let fits = 0;
let chosen = '';
for (let r = 0; r < repeats; r++) {
  const order = r % 2 === 0 ? [0, workers] : [workers, 0];
  const res = new Map<number, [InputSelection, number]>();
  for (const w of order) res.set(w, await select(w));
  const [a, ta] = res.get(0)!;
  const [b, tb] = res.get(workers)!;
  if (JSON.stringify(a.steps) !== JSON.stringify(b.steps)) {
    process.stderr.write('select_speed: the selection in worker threads took a different path from the one in the main thread\n');
    process.exit(1);
  }
  fits = a.fits;
  chosen = [...a.keepObs.map((j) => `obs ${j}`), ...(a.keepAction ? ['action'] : [])].join(', ');
  times.push({ here: ta, workers: tb });
  process.stdout.write(`repeat ${r + 1}: main thread ${ta.toFixed(1)} s, ${workers} workers ${tb.toFixed(1)} s, speed-up ${(ta / tb).toFixed(2)}\n`);
}
const speedup = median(times.map((t) => t.here / t.workers));
const load1 = loadavg();
process.stdout.write(
  `${run.split('/').filter(Boolean).pop()}: ${prefs} preference labels, ${fits} candidate sets, chose ${chosen}; same path in both; ` +
    `median speed-up of ${workers} worker threads over the main thread: ${speedup.toFixed(2)} (${availableParallelism()} CPUs, load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1.map((x) => x.toFixed(2)).join(' ')} at end)\n`,
);
if (args.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ run, labels: prefs, fits, chosen, workers, times, speedup, cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', loadavg: [load0, load1] })}\n`);
}
