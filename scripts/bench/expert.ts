/**
 * `bench oracle --expert`: checked against the suite's cells before any cell runs. The cells that
 * read it (the regret teacher's) come after the tabular, random-policy and true-reward PPO cells,
 * so an expert of the wrong env, or a flag no cell reads, was found (or silently ignored) only
 * well into the suite.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJsonObject, UsageError } from '../../core/errors.js';
import { expertCheckpoint } from '../commands/train.js';
import type { Cell } from './cells.js';

/** The envs of the cells that pass --expert to their run (the regret teacher's train cells), in order. */
export function expertEnvs(cells: readonly Cell[]): string[] {
  return [...new Set(cells.filter((c) => c.kind === 'train' && c.args.includes('--expert')).map((c) => c.env))];
}

/**
 * Check `--expert <given>` for the cells that will read it: a UsageError when none does (`what`
 * names the selection, e.g. "suite bpref" or "suite regret with these --envs"), when it is not a
 * PPO run or checkpoint on the env's true reward (train's expertCheckpoint), or when its checkpoint
 * records another env than those cells'. Returns the envs checked.
 */
export function checkExpertForCells(given: string, cells: readonly Cell[], what: string): string[] {
  const envs = expertEnvs(cells);
  if (envs.length === 0) throw new UsageError(`--expert: no cell of ${what} reads it (only the regret teacher's cells use V*: the regret and smoke suites have them); leave --expert out`);
  if (envs.length > 1) throw new UsageError(`--expert: the regret-teacher cells of ${what} are on ${envs.length} envs (${envs.join(', ')}), and one expert serves one env: run each env with --envs and its own --expert`);
  const env = envs[0];
  const ck = expertCheckpoint(given, { id: env });
  const file = ck.endsWith('.json') ? ck : join(ck, 'checkpoint.json');
  if (!existsSync(file)) return envs;
  const saved = (parseJsonObject(readFileSync(file, 'utf8'), file) as { env?: { id?: unknown } }).env?.id;
  if (typeof saved === 'string' && saved !== env) {
    throw new UsageError(`--expert: ${given} is a PPO run on env "${saved}"; the regret-teacher cells of ${what} are on "${env}": the expert's critic must come from the same env (e.g. prefrl train --env ${env} --reward true)`);
  }
  return envs;
}
