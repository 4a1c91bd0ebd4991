/**
 * `prefrl offline --teacher human` on a small toy-reach dataset, taught by one scripted person
 * at a viewer page: the pairs, label, reward and relabel stages complete, and what each writes
 * counts the person's answers (preferences, one "equal", one "can't tell") as hand-counted here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { LabelStore } from '../reward/store.js';
import { main } from '../scripts/cli.js';
import { useToyDataset } from './helpers/toy_dataset.js';
import { captureCli, lastJson, spawnCli } from './helpers/cli.js';
import { type Choice, ended, Person, runFolder, trueChoice, trueProbFirst, trueReturns, viewerUrl, waitFor, startViewerRun } from './human_helpers.js';

// 8 episodes of 50 steps: 400 transitions, 40 segments of 10 steps.
const toy = useToyDataset('prefrl-human-offline-', 8, { wasm: true });

const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

it('a person answers the 12 pairs in the viewer: labels, reward and relabel complete on the answers, counted as given', async () => {
  const runs = join(toy.dir, 'runs');
  const c = captureCli();
  const { running, storeFile, url } = await startViewerRun(
    c,
    ['offline', '--dataset', toy.data, '--teacher', 'human', '--human-port', '0', '--labels', '12', '--label-batch', '6', '--segment-length', '10',
      '--reward-members', '1', '--reward-hidden', '16', '--reward-epochs', '20', '--stage', 'pairs,label,reward,relabel', '--runs-dir', runs, '--quiet', '--json'],
    runs,
  );
  const store = LabelStore.open(storeFile, { create: false });
  try {
    const ada = await Person.join(url, 'ada');
    // Two batches of 6 (--label-batch): the page is served the second once it is stored.
    // Ada answers the first pair "equal" and the second "can't tell"; the rest by the true return.
    let n = 0;
    const said = new Map<string, Choice>();
    await ada.answerAll((p) => {
      const choice: Choice = n === 0 ? 'equal' : n === 1 ? 'cant_tell' : trueChoice(store, p);
      n++;
      said.set(p.pairId, choice);
      return choice;
    });
    expect(await running, c.err.join('')).toBe(0);
    expect(said.size).toBe(12);
    const runDir = runFolder(runs)!;
    expect(lastJson(c.out)).toEqual({ runDir, stages: { pairs: 'ran', label: 'ran', reward: 'ran', relabel: 'ran' } });

    // The labels: all ada's, each as she answered.
    const labels = store.labels();
    expect(labels).toHaveLength(12);
    for (const l of labels) {
      expect(l.teacher).toBe('human:ada');
      const choice = said.get(l.pairId);
      if (choice === 'cant_tell') expect(l.kind).toBe('skip');
      else expect(l, l.pairId).toMatchObject({ kind: 'preference', probFirst: choice === 'equal' ? 0.5 : trueProbFirst(store, l.pairId) });
    }
    // Of the 10 strict preferences, all agree with the true partial return (unless a pair's returns tie).
    const strict = [...said].filter(([, ch]) => ch === 'left' || ch === 'right').filter(([id]) => new Set(trueReturns(store, id)).size === 2).length;
    expect(json(join(runDir, 'artifacts', 'labels.json'))).toMatchObject({ teacher: 'human', labels: 12, preferences: 10, ties: 1, skips: 1, timeouts: 0, teacherAgreement: strict > 0 ? 1 : null });
    // The reward model learned from the 11 preferences (the tie among them, as a soft label).
    const reward = json(join(runDir, 'artifacts', 'reward.json'));
    expect(reward).toMatchObject({ preferences: 11, ties: 1 });
    // Relabelled: every transition of the dataset gets the learned reward. (How well 12 answers
    // teach it is not checked: with one held-out pair, the model kept can be the initial one.)
    const relabel = json(join(runDir, 'artifacts', 'relabel.json'));
    expect(relabel).toMatchObject({ kind: 'reward', transitions: 400 });
    expect(Number.isFinite(relabel.transitionCorrelation)).toBe(true);
  } finally {
    store.close();
  }
}, 120_000);

it('--human-on-timeout fail: the label stage stops with one line (no stack) naming the unanswered pairs and how to resume; --resume asks only those', async () => {
  const runs = join(toy.dir, 'fail-runs');
  const clock = new ManualClock();
  const c = captureCli(clock);
  const args = ['--human-port', '0', '--labels', '4', '--label-batch', '4', '--segment-length', '10', '--stage', 'pairs,label', '--quiet'];
  const { running, storeFile, url } = await startViewerRun(c, ['offline', '--dataset', toy.data, '--teacher', 'human', '--human-timeout', '5', '--human-on-timeout', 'fail', ...args, '--runs-dir', runs], runs);
  const runDir = runFolder(runs)!;
  const store = LabelStore.open(storeFile, { create: false, clock });
  try {
    const ada = await Person.join(url, 'ada');
    const p = await ada.take();
    await ada.answer(p, trueChoice(store, p));
    await ada.leave();
    clock.advance(6000); // the other 3 pairs: no answer within 5 s
    expect(await running).toBe(1);
    const open = store.pendingPairIds();
    expect(open).toHaveLength(3);
    const err = c.err.join('');
    expect(err).not.toMatch(/^\s+at /m);
    expect(err).toContain(
      `prefrl offline: human teacher: no answer for 3 of 4 pairs within 5 s (${open.join(', ')}); the 1 answer given is stored in ${storeFile}; the run folder keeps the stored labels and answers: resume with prefrl offline --resume ${runDir} --human-port ${new URL(url).port} --human-timeout 5 --human-on-timeout fail\n`,
    );
    // Resumed: the label stage asks the 3 open pairs, not the answered one.
    const r = captureCli();
    const again = main(['offline', '--resume', runDir, '--human-port', '0', '--stage', 'label', '--quiet'], r.ctx);
    let exit2: number | undefined;
    void again.then((code) => (exit2 = code));
    const url2 = await waitFor('the new viewer', () => ended(exit2, r.err) ?? (viewerUrl(storeFile) !== url ? viewerUrl(storeFile) : undefined));
    const bob = await Person.join(url2, 'bob');
    expect(await bob.answerAll((q) => trueChoice(store, q))).toBe(3);
    expect(await again, r.err.join('')).toBe(0);
    expect(bob.served.sort()).toEqual([...open].sort());
    expect(store.counts()).toMatchObject({ pairs: 4, labels: 4, pending: 0, timeouts: 0 });
  } finally {
    store.close();
  }
}, 120_000);

it('Ctrl-C while a person labels: the page is told the session ended (close 1001), and the stop says how to resume', async () => {
  const runs = join(toy.dir, 'sigint-runs');
  const { child, stderr, exited } = spawnCli(['offline', '--dataset', toy.data, '--teacher', 'human', '--human-port', '0', '--labels', '4', '--label-batch', '4', '--segment-length', '10', '--stage', 'pairs,label', '--runs-dir', runs, '--quiet']);
  try {
    const gone = () => {
      if (child.exitCode !== null) throw new Error(`prefrl offline exited ${child.exitCode}: ${stderr()}`);
      return undefined;
    };
    const storeFile = await waitFor('the run folder', () => gone() ?? (runFolder(runs) && join(runFolder(runs)!, 'labels.sqlite')));
    const url = await waitFor('the viewer to start', () => gone() ?? viewerUrl(storeFile));
    const ada = await Person.join(url, 'ada');
    await ada.take(); // she is looking at a pair
    child.kill('SIGINT');
    expect(await exited, stderr()).toBe(130);
    expect(stderr()).toContain(`stopped; resume with: prefrl offline --resume ${runFolder(runs)}`);
    expect(await ada.client.closed()).toBe(1001);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}, 120_000);
