/**
 * `prefrl tour`: a quick look at the robots that needs nothing but this package (seconds).
 * It rolls out random policies in every built-in MuJoCo env, saves the trajectories in one run
 * folder (the material segments and comparisons are cut from), and prints what was made.
 */
import { flags } from '../../core/config.js';
import { createRunDir, removeIfEmpty } from '../../core/run.js';
import { registeredEnvs } from '../../envs/registry.js';
import { type Command, onInterrupt, parseOrHelp, printJson } from '../command.js';
import { collectInto, type RolloutSummary, summaryTable } from './rollout.js';
import { jsonFlag, quietFlag, runsDirFlag, seedFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl tour',
  summary: 'A short tour: random-policy rollouts in every built-in robot, saved as trajectories in a run folder.',
  flags: {
    episodes: flags.int({ doc: 'episodes per env', default: 2, min: 1 }),
    seed: seedFlag(),
    runsDir: runsDirFlag,
    json: jsonFlag(),
    quiet: quietFlag('one per env'),
  },
};

export const tourCommand: Command = {
  name: 'tour',
  summary: commandSummary('tour'),
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const f = parsed.flags;
    const envs = registeredEnvs().filter((e) => e.kind === 'mujoco');
    const run = createRunDir({ root: f.runsDir, name: 'tour', config: { command: 'tour', ...f, envs: envs.map((e) => e.id) }, clock: ctx.clock });
    ctx.logger.info(`tour: ${f.episodes} random-policy episode${f.episodes === 1 ? '' : 's'} in each of ${envs.length} MuJoCo envs -> ${run.path}`);
    const rows: RolloutSummary[] = [];
    // Ctrl-C (collectInto lets it in after each episode): the envs done so far keep their trajectories; summary.json is not written.
    const stopHint = onInterrupt(
      ctx,
      () => {
        const removed = removeIfEmpty(run);
        const kept = removed ? 'nothing was saved (the run folder was removed)' : `the trajectories of ${rows.map((r) => r.env).join(', ')} are in ${run.path} (no summary.json)`;
        return {
          line: `stopped after ${rows.length} of ${envs.length} envs; ${kept}; run prefrl tour again for all`,
          fields: { runDir: removed ? null : run.path, envs: rows, of: envs.map((e) => e.id) },
        };
      },
      { json: f.json },
    );
    try {
      for (const e of envs) rows.push(await collectInto(run, { id: e.id }, { episodes: f.episodes, policy: 'random', seed: f.seed, quiet: f.quiet }, ctx));
      run.writeJson('summary.json', rows);
    } finally {
      stopHint();
      run.close();
    }
    if (f.json) printJson(ctx.io, { runDir: run.path, envs: rows });
    else {
      ctx.io.stdout.write(
        [
          summaryTable(rows),
          '',
          `run folder: ${run.path}`,
          '  config.json, metrics.jsonl, summary.json, software.json, artifacts/trajectories/<env>/ (NumPy .npy files + index.json)',
          'next: prefrl envs | prefrl check-env reacher | prefrl rollout --env cheetah-run --episodes 3',
          '',
        ].join('\n'),
      );
    }
    return 0;
  },
};
