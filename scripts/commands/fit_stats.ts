/**
 * `prefrl fit-stats`: does the partial-return or the regret preference model explain a set of
 * labelled comparisons better? Fits each model's temperature by maximum likelihood and reports
 * k-fold held-out NLL and accuracy (definitions and sign conventions in reward/fit_stats.ts).
 */
import { existsSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { flags } from '../../core/config.js';
import { isFolder } from '../../core/paths.js';
import { fitStats, readPreferenceStats, STATS_MODELS } from '../../reward/fit_stats.js';
import { type Command, formatTable, parseOrHelp, printJson } from '../command.js';
import { jsonFlag, seedFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl fit-stats',
  summary: 'Fit the partial-return and regret preference models to comparison statistics and compare held-out NLL and accuracy.',
  flags: {
    x: flags.string({ doc: 'statistics per pair, [n, 3]: dR, dV_start, dV_end, each first minus second (.npy or CSV)' }),
    y: flags.string({ doc: 'labels per pair, [n] or [n, 1]: 1 first preferred, 0 second, 0.5 tie (.npy or CSV)' }),
    folds: flags.int({ doc: 'number of cross-validation folds', default: 10, min: 2 }),
    seed: seedFlag('the fold assignment'),
    json: jsonFlag(),
  },
  epilog: [
    'Models: partial return P(first) = sigmoid(dR / T); regret P(first) = sigmoid((dR + dV_end - dV_start) / T);',
    'constant P(first) = mean training label. NLL in nats per row; accuracy over rows with label 0 or 1.',
    'A model is named better only when its held-out NLL is lower by more than 2 standard errors of the per-row',
    'difference (regret minus partial return) and by at least 0.00005 nats per row; otherwise the models are level.',
    'Example: prefrl fit-stats --x human_X.npy --y human_Y.npy --folds 10 --json',
  ].join('\n'),
};

function fmt(v: number | null, digits = 4): string {
  return v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

export const fitStatsCommand: Command = {
  name: 'fit-stats',
  summary: commandSummary('fit-stats'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    // A file that is not there is a usage error naming its flag, as for every other command's input files.
    for (const [flag, file] of [['--x', f.x], ['--y', f.y]] as const) {
      if (!existsSync(file)) throw new UsageError(`${spec.command}: ${flag}: ${JSON.stringify(file)} not found`);
      // A folder (a run folder, say) would fail in the reader as "EISDIR: illegal operation on a directory".
      if (isFolder(file)) throw new UsageError(`${spec.command}: ${flag}: ${JSON.stringify(file)} is a folder; give the .npy or CSV file of ${flag === '--x' ? 'statistics' : 'labels'}`);
    }
    const stats = readPreferenceStats(f.x, f.y);
    if (f.folds > stats.n) throw new UsageError(`${spec.command}: --folds ${f.folds} exceeds the number of rows (${stats.n}) in ${f.x}`);
    const r = fitStats(stats, { folds: f.folds, seed: f.seed });
    if (f.json) {
      printJson(ctx.io, { x: f.x, y: f.y, ...r });
      return 0;
    }
    const out = ctx.io.stdout;
    out.write(
      `${r.rows} comparisons: ${r.firstPreferred} first preferred, ${r.secondPreferred} second, ${r.ties} tie${r.ties === 1 ? '' : 's'}; ` +
        `${r.equalReturns} with equal partial returns. ${r.folds}-fold cross-validation (seed ${r.seed}); ` +
        `accuracy over ${r.accuracyRows} rows with a strict label.\n\n`,
    );
    const rows = STATS_MODELS.map((m) => {
      const x = r.models[m];
      const flag = x.degenerate ? ' (all scores 0)' : x.atBound ? ' (at search bound)' : '';
      return [m, `${x.temperature.toPrecision(4)}${flag}`, fmt(x.trainNll), fmt(x.heldOutNll), fmt(x.heldOutAccuracy, 3)];
    });
    rows.push(['constant', `p=${r.constant.probFirst.toFixed(3)}`, '-', fmt(r.constant.heldOutNll), fmt(r.constant.heldOutAccuracy, 3)]);
    out.write(`${formatTable(['model', 'T (all rows)', 'train NLL', 'held-out NLL', 'held-out acc'], rows)}\n\n`);
    const d = r.nllDifference;
    const diffText = `regret minus partial return: ${d.mean.toFixed(4)} +- ${d.se.toFixed(4)} nats per row, mean +- s.e.`;
    out.write(
      r.better === 'level'
        ? `Held-out NLL: the models are level, no better model (${diffText}; a model is named only when the difference exceeds 2 s.e. and 0.00005).\n`
        : `Better model (lower held-out NLL by more than 2 s.e.): ${r.better} (${diffText})\n`,
    );
    return 0;
  },
};
