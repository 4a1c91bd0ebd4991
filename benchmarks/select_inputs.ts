/**
 * Run the reward model's input selection (reward/select.ts, the same code as
 * `prefrl train --reward-select-inputs`) on the labels a run stored, and print its path: at each
 * step every candidate's cross-validated NLL, the input added, and where it stopped.
 *
 *   npx tsx benchmarks/select_inputs.ts <run folder> [--max-labels N] [--seed 0] [--folds 3] [--min-gain 0.02] [--workers N]
 *
 * --max-labels N uses the run's first N preference labels (in the order they were asked), i.e.
 * what the online loop would have had when its selection ran with `--reward-select-inputs N`
 * (the loop's selection also uses every label of the round that crossed N). --workers N: worker
 * threads scoring candidate sets at once (default: one per core, as the CLI; the path does not
 * depend on it).
 */
import { initBackend } from '../core/backend.js';
import { Rng } from '../core/rng.js';
import { type InputUnit, selectInputs, selectionWorkers } from '../reward/select.js';
import { runArgs, storedLabels } from './stored_labels.js';

const { run, opt } = runArgs('usage: npx tsx benchmarks/select_inputs.ts <run folder> [--max-labels N] [--seed 0] [--folds 3] [--min-gain 0.02] [--workers N]\n');
const maxLabels = Number(opt('max-labels', 'Infinity'));
const seed = Number(opt('seed', '0'));
const folds = Number(opt('folds', '3'));
const minGain = Number(opt('min-gain', '0.02'));
const workersArg = opt('workers', '');

await initBackend('wasm');
const { pairs, labels } = storedLabels(run, maxLabels);
const first = pairs[0].a;
const name = (u: InputUnit): string => (u === 'action' ? 'a' : String(u));
const t0 = Date.now();
const workers = selectionWorkers(workersArg === '' ? null : Number(workersArg));
const sel = await selectInputs(pairs, labels, { input: 'obs-action', obsDim: first.obsDim, actDim: first.actDim, rng: new Rng(seed).fork('select-inputs'), folds, minGain, workers });
process.stdout.write(`${run.split('/').pop()}: ${sel.labels} preference labels, ${folds} folds, min gain ${minGain}; NLL with no inputs ${sel.baselineNll.toFixed(4)}\n`);
for (const st of sel.steps) {
  const cands = st.candidates.map((c) => `${name(c.unit)}:${c.nll.toFixed(3)}`).join(' ');
  process.stdout.write(`  best +${name(st.unit)}: NLL ${st.nll.toFixed(4)}, accuracy ${st.accuracy.toFixed(3)}, ${st.kept ? 'kept' : 'not kept (stop)'}   [${cands}]\n`);
}
process.stdout.write(`  kept: obs ${sel.keepObs.join(',') || '-'}${sel.keepAction ? ' + action' : ''} (${sel.fits} candidate sets, ${((Date.now() - t0) / 1000).toFixed(0)} s, ${workers} worker threads)\n`);
