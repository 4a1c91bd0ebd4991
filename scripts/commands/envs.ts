/** `prefrl envs`: list the registered environments with their sizes, reward terms and goals. */
import { registeredEnvs, makeEnv } from '../../envs/registry.js';
import { specToJson } from '../../envs/types.js';
import { type Command, formatTable, parseOrHelp, printJson } from '../command.js';
import { jsonFlag } from './common_flags.js';
import { commandSummary } from '../command_index.js';

const spec = {
  command: 'prefrl envs',
  summary: commandSummary('envs'),
  flags: {
    json: jsonFlag(),
  },
  epilog: [
    'The table shows each env\'s goal text (what people and vision-language models are told) on the line under its row.',
    '--json: obsLow, obsHigh, actLow and actHigh are numbers, except unbounded ones: the strings "-Infinity" and "Infinity"',
    '(JSON has no infinities; Number("Infinity") and Python\'s float("Infinity") read them).',
  ].join('\n'),
};

/** A bound for JSON: the number, or "Infinity" / "-Infinity" when unbounded (JSON has no infinities). */
export function boundToJson(x: number): number | string {
  return Number.isFinite(x) ? x : x > 0 ? 'Infinity' : x < 0 ? '-Infinity' : 'NaN';
}

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
        const s = env.spec;
        const bounds = (a: Float64Array) => Array.from(a, boundToJson);
        list.push({
          ...specToJson(s),
          obsLow: bounds(s.obsLow),
          obsHigh: bounds(s.obsHigh),
          actLow: bounds(s.actLow),
          actHigh: bounds(s.actHigh),
          kind: entry.kind,
          summary: entry.summary,
        });
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
    // The goal text is long: a line of its own under each env's row.
    const table = formatTable(['id', 'obs', 'act', 'dt', 'horizon', 'reward terms (weight)'], rows).split('\n');
    const lines = [...table.slice(0, 2), ...list.flatMap((e, i) => [table[i + 2], `  goal: ${e.goal}`])];
    ctx.io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
