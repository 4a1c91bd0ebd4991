/**
 * A kill can cut off the last row of a run's metrics.jsonl (MetricsLog writes a row as one line).
 * A resumed `prefrl offline` appended its rows to that cut line, and the line they made together
 * parsed as nothing: the eval stage, which reads every row holding a stage's seconds, stopped
 * with a SyntaxError on every resume after. Now openRunDir drops a cut last line before
 * anything is logged, and the eval stage passes over a damaged line left by a resume from before.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRunDir } from '../../core/run.js';
import { main } from '../../scripts/cli.js';
import { useToyDataset } from '../helpers/toy_dataset.js';
import { captureCli, lastJson } from '../helpers/cli.js';

const toy = useToyDataset('prefrl-cut-metrics-', 12);

const TINY = ['--teacher', 'oracle', '--labels', '20', '--segment-length', '10', '--reward-members', '2', '--reward-hidden', '8', '--reward-epochs', '2', '--updates', '20', '--batch-size', '16',
  '--hidden', '8', '--eval-episodes', '1', '--seed', '2', '--backend', 'wasm'];

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const c = captureCli();
  expect(await main([...args, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
  return lastJson(c.out);
}

/** Every line of a metrics.jsonl, parsed (throws on a damaged one). */
const rows = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('a metrics.jsonl cut off by a kill', () => {
  it('openRunDir drops the cut last line before logging: the rows before it and the new row stay whole', () => {
    const run = join(toy.dir, 'unit');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'metrics.jsonl'), '{"step":0,"a/x":1}\n{"step":1,"a/x":2}\n{"step":2,"a/');
    const r = openRunDir(run);
    r.metrics.log(3, { 'b/y': 4 });
    r.close();
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8')).toBe('{"step":0,"a/x":1}\n{"step":1,"a/x":2}\n{"step":3,"b/y":4}\n');
    // A whole file is left as it is.
    const again = openRunDir(run);
    again.close();
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8')).toBe('{"step":0,"a/x":1}\n{"step":1,"a/x":2}\n{"step":3,"b/y":4}\n');
  });

  it('prefrl offline --resume after a row was cut off: every stage runs, every row parses, the summary has every stage\'s seconds', async () => {
    // Killed after the pairs stage, while a row was being written; the label stage, which runs
    // first on --resume, logs its rows without rewriting the file first (the later stages do).
    const first = await cli(['offline', '--dataset', toy.data, ...TINY, '--stage', 'pairs', '--runs-dir', join(toy.dir, 'a')]);
    const runDir = first.runDir as string;
    const file = join(runDir, 'metrics.jsonl');
    const whole = rows(file);
    expect(whole).toHaveLength(1);
    appendFileSync(file, '{"step":0,"teacher/lab');
    const s = await cli(['offline', '--resume', runDir]);
    expect(s.stages).toEqual({ pairs: 'skipped', label: 'ran', reward: 'ran', relabel: 'ran', iql: 'ran', eval: 'ran' });
    const after = rows(file);
    // The row from before the cut stays at the top; the label stage's rows follow, whole.
    expect(after[0]).toEqual(whole[0]);
    expect(after[1]).toMatchObject({ step: 0, 'teacher/labels': 20 });
    // Every stage, the eval stage included (its seconds go into the summary it writes, and into its row).
    expect(Object.keys(s.stageSeconds as object).sort()).toEqual(['eval', 'iql', 'label', 'pairs', 'relabel', 'reward']);
    expect((s.stageSeconds as Record<string, number>).pairs).toBe(whole[0]['stages/pairs_seconds']);
    expect((s.stageSeconds as Record<string, number>).eval).toBe(after.find((r) => 'stages/eval_seconds' in r)?.['stages/eval_seconds']);
    expect(s.stageTiming).toEqual({ pairs: 'whole', label: 'whole', reward: 'whole', relabel: 'whole', iql: 'whole', eval: 'whole' });
  }, 60_000);

  it('the eval stage passes over a damaged line a resume made before the fix, taking the seconds from the whole rows', async () => {
    const first = await cli(['offline', '--dataset', toy.data, ...TINY, '--stage', 'pairs,label', '--runs-dir', join(toy.dir, 'b')]);
    const runDir = first.runDir as string;
    const file = join(runDir, 'metrics.jsonl');
    const pairsSeconds = rows(file).find((r) => 'stages/pairs_seconds' in r)?.['stages/pairs_seconds'];
    expect(typeof pairsSeconds).toBe('number');
    // A cut row with a whole row appended to it (what a resume wrote before), then a whole row.
    appendFileSync(file, '{"step":0,"stages/pairs_sec{"step":0,"stages/label_seconds":0.25}\n{"step":0,"stages/label_seconds":0.75}\n');
    const s = await cli(['offline', '--resume', runDir]);
    expect(s.stages).toMatchObject({ eval: 'ran' });
    const seconds = s.stageSeconds as Record<string, number>;
    expect(seconds.label).toBe(0.75);
    expect(seconds.pairs).toBe(pairsSeconds);
  }, 60_000);

  it('a stage done before whose seconds row was lost (killed after its outputs, before the row) is named as not recorded, not left out silently', async () => {
    const first = await cli(['offline', '--dataset', toy.data, ...TINY, '--stage', 'pairs', '--runs-dir', join(toy.dir, 'c')]);
    const runDir = first.runDir as string;
    const file = join(runDir, 'metrics.jsonl');
    writeFileSync(file, rows(file).filter((r) => !('stages/pairs_seconds' in r)).map((r) => `${JSON.stringify(r)}\n`).join(''));
    const c = captureCli();
    expect(await main(['offline', '--resume', runDir, '--quiet'], c.ctx), c.err.join('')).toBe(0);
    const s = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { stageSeconds: Record<string, number>; stageTiming: Record<string, string> };
    expect(Object.keys(s.stageSeconds).sort()).toEqual(['eval', 'iql', 'label', 'relabel', 'reward']);
    expect(s.stageTiming).toEqual({ pairs: 'not-recorded', label: 'whole', reward: 'whole', relabel: 'whole', iql: 'whole', eval: 'whole' });
    expect(c.out.join('')).toContain('; not recorded: pairs (done by a process stopped before it logged its time)\n');
  }, 60_000);
});
