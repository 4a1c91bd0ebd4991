/**
 * A `prefrl train --teacher human` run whose people answer at a `prefrl serve` of the run's label
 * store, started apart from it (another process, as on a lab machine that keeps the viewer up
 * between runs): the run uses that server instead of starting its own, learns from the answers
 * given there, and the answers it took cannot be undone there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { LabelStore } from '../reward/store.js';
import { captureCli, lastJson, spawnCli } from './helpers/cli.js';
import { humanTestDir, Person, roundCounts, startInProcess, startViewerRun, tinyTrainFlags, trueChoice, trueProbFirst, viewerUrl, waitFor } from './human_helpers.js';

const TINY = tinyTrainFlags();

const dir = humanTestDir('serve');

it('a resumed run finds prefrl serve running on its store and waits for the answers people give there; what it took cannot be undone there', async () => {
  const runs = join(dir(), 'runs');
  // A run whose first round nobody answered (--human-on-timeout fail, on a clock the test moves): its folder and label store exist, no checkpoint yet.
  const clock = new ManualClock();
  const c = captureCli(clock);
  const first = await startViewerRun(c, ['train', ...TINY, '--teacher', 'human', '--human-port', '0', '--human-timeout', '5', '--human-on-timeout', 'fail', '--labels', '8', '--labels-per-round', '4', '--runs-dir', runs, '--quiet'], runs);
  const { storeFile, runDir, url: own } = first;
  clock.advance(6000);
  expect(await first.running).toBe(1);

  // prefrl serve on the run's store, in another process.
  const serve = spawnCli(['serve', '--store', storeFile, '--port', '0']);
  const store = LabelStore.open(storeFile, { create: false });
  try {
    const url = await waitFor('prefrl serve', () => {
      if (serve.child.exitCode !== null) throw new Error(`prefrl serve exited ${serve.child.exitCode}: ${serve.stderr()}`);
      const u = viewerUrl(storeFile);
      return u !== undefined && u !== own ? u : undefined;
    });
    const servePid = (JSON.parse(readFileSync(`${storeFile}.viewer.json`, 'utf8')) as { pid: number }).pid;
    expect(servePid).toBe(serve.child.pid);

    const r = captureCli();
    const resumed = startInProcess(r, ['train', '--resume', runDir, '--human-port', '0', '--quiet', '--json']);
    const ada = await Person.join(url, 'ada');
    // Round 0 again (the run starts over: no checkpoint), then round 1: 8 answers, all at serve's page.
    const labelIds: string[] = [];
    for (let i = 0; i < 8; i++) {
      const p = await ada.take();
      expect(p.round, p.pairId).toBe(i < 4 ? 0 : 1);
      labelIds.push(await ada.answer(p, trueChoice(store, p)));
    }
    expect(await resumed.running, r.err.join('')).toBe(0);
    expect(resumed.exit()).toBe(0);
    expect(r.err.join('')).toContain(`human teacher: using the labelling server already running on ${storeFile}: ${url}`);
    // Its budget spent, the run says serve (not its own) goes on offering the store's open pairs.
    expect(r.err.join('')).toContain(
      `human teacher: the --labels budget is spent (8 of 8 answers); the labelling server at ${url} is another process's (prefrl serve) and keeps offering the store's open pairs: answers given there are stored, not used by this run`,
    );
    // The run started no server of its own: serve's info file is still the one there.
    expect(viewerUrl(storeFile)).toBe(url);
    expect(lastJson<{ labelsUsed: number }>(r.out).labelsUsed).toBe(8);
    expect(roundCounts(runDir)).toEqual([
      [4, 0],
      [8, 0],
    ]);
    for (const l of store.labels()) expect(l, l.pairId).toMatchObject({ teacher: 'human:ada', kind: 'preference', probFirst: trueProbFirst(store, l.pairId) });
    // serve (another process) refuses to undo what training took: the lock is in the store.
    for (const id of [labelIds[0], labelIds[7]]) {
      ada.client.send({ type: 'undo', labelId: id, name: 'ada' });
      expect(await ada.client.next('error'), id).toMatchObject({ code: 'not_allowed', labelId: id });
    }
    expect(store.counts()).toMatchObject({ labels: 8, pending: 0 });
    await ada.leave();
  } finally {
    store.close();
    if (serve.child.exitCode === null) serve.child.kill('SIGINT');
    await serve.exited;
  }
}, 120_000);
