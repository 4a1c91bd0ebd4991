/**
 * A `prefrl train --teacher human` run stopped with Ctrl-C while people answer a round, then
 * resumed (`--resume`) on the same run folder: the answers given before the stop are kept and
 * count against --labels, and none of their pairs is asked again.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { LabelStore } from '../reward/store.js';
import { main } from '../scripts/cli.js';
import { captureCli, lastJson, spawnCli } from './helpers/cli.js';
import { humanTestDir, Person, roundCounts, runFolder, startInProcess, startViewerRun, tinyTrainFlags, trueChoice, trueProbFirst, viewerUrl, waitFor } from './human_helpers.js';

const TINY = tinyTrainFlags();

const dir = humanTestDir('resume');

/** `n` pairs answered by a person who joins at `url`, each checked to come from round `round`; the person leaves after. */
async function answerRound(url: string, name: string, store: LabelStore, round: number, n: number): Promise<string[]> {
  const p = await Person.join(url, name);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const pair = await p.take();
    expect(pair.round, pair.pairId).toBe(round);
    await p.answer(pair, trueChoice(store, pair));
    ids.push(pair.pairId);
  }
  await p.leave();
  return ids;
}

it('Ctrl-C during a round people are answering, then --resume: the answers given are kept and counted, and their pairs are not asked again', async () => {
  const runs = join(dir(), 'runs');
  // Rounds of 4 at 1024, 2048 and 3072 env steps; a checkpoint after each evaluation (every 1024).
  const { child, stderr, exited } = spawnCli(['train', ...TINY, '--teacher', 'human', '--human-port', '0', '--labels', '12', '--labels-per-round', '4', '--runs-dir', runs, '--quiet']);
  let store: LabelStore | undefined;
  try {
    const storeFile = await waitFor('the run folder', () => runFolder(runs) && join(runFolder(runs)!, 'labels.sqlite'));
    const runDir = runFolder(runs)!;
    const first = await waitFor('the viewer to start', () => viewerUrl(storeFile) ?? (child.exitCode !== null && `exit ${child.exitCode}: ${stderr()}`));
    expect(first).toMatch(/^http:/);
    store = LabelStore.open(storeFile, { create: false });
    const s = store;
    // Round 0: all 4 answered. Round 1: 2 of its 4 answered, then the run is stopped.
    const before = [...(await answerRound(first, 'ada', s, 0, 4)), ...(await answerRound(first, 'ada', s, 1, 2))];
    // A person still at the page when the run is stopped is told the session ended (close code
    // 1001, which the page shows as "session ended"), not left with a lost connection (1006).
    const watcher = await Person.join(first, 'zed');
    // He holds one of the round's open pairs (a lease of 5 minutes), which the stopping run gives back.
    const zeds = await watcher.take();
    expect(zeds.round).toBe(1);
    expect(s.counts().activeLeases).toBe(1);
    let reason = '';
    watcher.client.ws.once('close', (_code, r) => (reason = String(r)));
    child.kill('SIGINT');
    expect(await exited, stderr()).toBe(130);
    expect(stderr()).toContain(`stopped; resume with: prefrl train --resume ${runDir}`);
    expect(await watcher.client.closed()).toBe(1001);
    expect(reason).toBe('server shutting down');
    // Nor is the server advertised next to the store any more.
    expect(existsSync(`${storeFile}.viewer.json`)).toBe(false);
    const kept = s.labels().map((l) => [l.id, l.pairId, l.teacher]);
    expect(kept.map(([, pairId]) => pairId).sort()).toEqual([...before].sort());
    expect(s.counts()).toMatchObject({ pairs: 8, labels: 6, pending: 2, activeLeases: 0 });

    // The resumed run goes on from its checkpoint at 1024 env steps (taken after round 0), in a new server.
    const c = captureCli();
    const run = startInProcess(c, ['train', '--resume', runDir, '--human-port', '0', '--quiet', '--json']);
    const { running } = run;
    // Its first round asks 4 new pairs (12 - 6 answers left); people get them before the 2 the
    // stopped round left open (the newest round goes out first).
    await waitFor("the resumed run's first round", () => run.stillRunning() ?? s.pendingPairIds({ round: 2 }).length === 4);
    const second = await waitFor('the new viewer', () => (viewerUrl(storeFile) !== first ? viewerUrl(storeFile) : undefined));
    const after = await answerRound(second, 'ada', s, 2, 4);
    // Then 2 more (12 - 10): the budget is spent with the answers of before the stop counted.
    await waitFor("the resumed run's second round", () => run.stillRunning() ?? s.pendingPairIds({ round: 3 }).length === 2);
    after.push(...(await answerRound(second, 'ada', s, 3, 2)));
    expect(await running, c.err.join('')).toBe(0);

    expect(after.filter((id) => before.includes(id))).toEqual([]);
    // Every label of before the stop is there, unchanged, and the rest are the resumed run's.
    expect(s.labels().slice(0, 6).map((l) => [l.id, l.pairId, l.teacher])).toEqual(kept);
    expect(s.labels().map((l) => l.pairId).slice(6).sort()).toEqual([...after].sort());
    for (const l of s.labels()) expect(l, l.pairId).toMatchObject({ teacher: 'human:ada', kind: 'preference', probFirst: trueProbFirst(s, l.pairId) });
    // The 2 pairs the stopped round left open are still there for people (prefrl serve), unanswered.
    expect(s.counts()).toMatchObject({ pairs: 14, labels: 12, timeouts: 0, pending: 2, waitingForPeople: 2 });
    expect(lastJson<{ labelsUsed: number }>(c.out).labelsUsed).toBe(12);
    // Round 0's row from before the stop, then the resumed run's two rounds (none for the stopped one).
    expect(roundCounts(runDir)).toEqual([
      [4, 0],
      [10, 0],
      [12, 0],
    ]);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    store?.close();
  }
}, 120_000);

it('--human-on-timeout fail: the run stops with an error naming the unanswered pairs and the store; --resume (no checkpoint yet: it starts over) asks only the pairs not answered', async () => {
  const runs = join(dir(), 'fail-runs');
  const clock = new ManualClock();
  const c = captureCli(clock);
  const { running, storeFile, runDir, url } = await startViewerRun(c, ['train', ...TINY, '--teacher', 'human', '--human-port', '0', '--human-timeout', '5', '--human-on-timeout', 'fail', '--labels', '8', '--labels-per-round', '4', '--runs-dir', runs, '--quiet', '--json'], runs);
  const store = LabelStore.open(storeFile, { create: false, clock });
  try {
    // Round 0: ada answers 2 of the 4 pairs; then 6 s pass with no answer.
    const before = await answerRound(url, 'ada', store, 0, 2);
    clock.advance(6000);
    expect(await running).toBe(1);
    const err = c.err.join('');
    // One line, no stack, saying how to go on.
    const unanswered = store.pendingPairIds({ round: 0 });
    expect(err.slice(err.indexOf('prefrl train: '))).toBe(
      `prefrl train: human teacher: no answer for 2 of 4 pairs within 5 s (${unanswered.join(', ')}); the 2 answers given are stored in ${storeFile}; resume with: prefrl train --resume ${runDir} --human-port ${new URL(url).port} --human-timeout 5 --human-on-timeout fail\n`,
    );
    expect(store.counts()).toMatchObject({ pairs: 4, labels: 2, timeouts: 0, pending: 2 });
    const round0 = unanswered;
    // `prefrl runs`, in another command after the server closed, gives the same resume command: the
    // port the server picked (the store records it), not the saved --human-port 0.
    expect(store.servedPort()).toBe(Number(new URL(url).port));
    const listed = captureCli();
    expect(await main(['runs', '--runs-dir', runs, '--json'], listed.ctx), listed.err.join('')).toBe(0);
    // (At step 0: the untrained policy's evaluation is its one metrics row.)
    expect(lastJson<{ runs: { resume: string }[] }>(listed.out).runs[0].resume).toBe(
      `at step 0 of 4096: prefrl train --resume ${runDir} --human-port ${new URL(url).port} --human-timeout 5 --human-on-timeout fail`,
    );

    // Resumed (another clock, as another process would have): round 0 is drawn again, and only its 2 open pairs are asked.
    const r = captureCli(new ManualClock());
    const resumed = startInProcess(r, ['train', '--resume', runDir, '--human-port', '0', '--quiet', '--json']);
    const url2 = await waitFor('the new viewer', () => resumed.stillRunning() ?? (viewerUrl(storeFile) !== url ? viewerUrl(storeFile) : undefined));
    const rest = await answerRound(url2, 'ada', store, 0, 2);
    expect(rest.sort()).toEqual([...round0].sort());
    await waitFor('round 1', () => resumed.stillRunning() ?? store.pendingPairIds({ round: 1 }).length === 4);
    const round1 = await answerRound(url2, 'ada', store, 1, 4);
    expect(await resumed.running, r.err.join('')).toBe(0);
    expect(r.err.join('')).toMatch(/no checkpoint in .* yet: starting over, keeping 2 stored labels/);
    expect([...before, ...rest, ...round1].filter((id, i, all) => all.indexOf(id) !== i)).toEqual([]);
    expect(store.counts()).toMatchObject({ pairs: 8, labels: 8, timeouts: 0, pending: 0 });
    expect(roundCounts(runDir)).toEqual([
      [4, 0],
      [8, 0],
    ]);
    expect(lastJson<{ labelsUsed: number }>(r.out).labelsUsed).toBe(8);
  } finally {
    store.close();
  }
}, 120_000);
