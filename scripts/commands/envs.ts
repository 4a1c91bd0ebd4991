/** `prefrl envs`: list the registered environments with their sizes and reward terms. */
import { flags } from '../../core/config.js';
import { registeredEnvs, makeEnv } from '../../envs/registry.js';
import { specToJson } from '../../envs/types.js';
import { type Command, formatTable, parseOrHelp, printJson } from '../command.js';

const spec = {
  command: 'prefrl envs',
  summary: 'List the built-in environments: observation and action sizes, dt, horizon, reward terms and goal.',
  flags: {
    json: flags.bool({ doc: 'Print one JSON object (the machine-readable contract) as the last line', default: false }),
  },
};

export const envsCommand: Command = {
  name: 'envs',
  summary: spec.summary,
  async run(argv, ctx) {
    const parsed = parseOrHelp(argv, spec, ctx.io);
    if (!parsed) return 0;
    const list = [];
    for (const entry of registeredEnvs()) {
      const env = await makeEnv(entry.id, { logger: ctx.logger });
      try {
        list.push({ ...specToJson(env.spec), kind: entry.kind, summary: entry.summary });
      } finally {
        env.dispose();
      }
    }
    if (parsed.flags.json) {
      printJson(ctx.io, { envs: list });
      return 0;
    }
    const rows = list.map((e) => [
      e.id,
      String(e.obsDim),
      String(e.actDim),
      String(e.dt),
      String(e.horizon),
      e.rewardTerms.map((t) => `${t.name}(${t.weight})`).join(' '),
    ]);
    ctx.io.stdout.write(`${formatTable(['id', 'obs', 'act', 'dt', 'horizon', 'reward terms (weight)'], rows)}\n`);
    return 0;
  },
};
