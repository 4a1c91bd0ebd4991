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
import './script_errors.js';
import { initBackend } from '../core/backend.js';
import { Rng } from '../core/rng.js';
import { type InputUnit, selectInputs, selectionWorkers } from '../reward/select.js';
import { numOpt, runArgs, scriptFail, scriptLabels } from './stored_labels.js';

const SCRIPT = 'select_inputs.ts';
const usage = 'usage: npx tsx benchmarks/select_inputs.ts <run folder> [--max-labels N] [--seed 0] [--folds 3] [--min-gain 0.02] [--workers N]\n';
const { run, opt } = runArgs(usage);
const maxLabels = numOpt(SCRIPT, usage, opt, 'max-labels', 'Infinity', 1);
const seed = numOpt(SCRIPT, usage, opt, 'seed', '0', 0);
const folds = numOpt(SCRIPT, usage, opt, 'folds', '3', 2);
const minGain = numOpt(SCRIPT, usage, opt, 'min-gain', '0.02', 0, false);
const workersArg = opt('workers', '') === '' ? null : numOpt(SCRIPT, usage, opt, 'workers', '', 0);

const { pairs, labels } = scriptLabels(SCRIPT, run, maxLabels);
const first = pairs[0].a;
const name = (u: InputUnit): string => (u === 'action' ? 'a' : String(u));
const t0 = Date.now();
const workers = selectionWorkers(workersArg);
const sel = await initBackend('wasm').then(() => selectInputs(pairs, labels, { input: 'obs-action', obsDim: first.obsDim, actDim: first.actDim, rng: new Rng(seed).fork('select-inputs'), folds, minGain, workers })).catch((e: unknown) => scriptFail(SCRIPT, e));
process.stdout.write(`${run.split('/').pop()}: ${sel.labels} preference labels, ${folds} folds, min gain ${minGain}; NLL with no inputs ${sel.baselineNll.toFixed(4)}\n`);
for (const st of sel.steps) {
  const cands = st.candidates.map((c) => `${name(c.unit)}:${c.nll.toFixed(3)}`).join(' ');
  process.stdout.write(`  best +${name(st.unit)}: NLL ${st.nll.toFixed(4)}, accuracy ${st.accuracy.toFixed(3)}, ${st.kept ? 'kept' : 'not kept (stop)'}   [${cands}]\n`);
}
process.stdout.write(`  kept: obs ${sel.keepObs.join(',') || '-'}${sel.keepAction ? ' + action' : ''} (${sel.fits} candidate sets, ${((Date.now() - t0) / 1000).toFixed(0)} s, ${workers === 0 ? 'the main thread' : `${workers} worker thread${workers === 1 ? '' : 's'}`})\n`);
