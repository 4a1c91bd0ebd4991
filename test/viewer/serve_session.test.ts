/**
 * `prefrl serve` as whoever runs a labelling study sees it on the terminal (a child process,
 * stopped with Ctrl-C as a person stops it): a line per answer stored or undone (who, how many,
 * pairs still waiting, agreement so far), a line once every pair has its answers, a stop line that says who
 * answered how much this session and the agreement, and, when the access token was made up for
 * the session (or the port picked by --port 0), the --token (--port) that keeps the links handed
 * out working after a restart. It printed nothing between "press Ctrl-C" and the stop line, the
 * stop line gave neither, and a restart made another token, which locked out every page holding
 * the old link.
 */
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { LabelStore } from '../../reward/store.js';
import { madeUpToken } from '../../scripts/commands/serve.js';
import { spawnCli, spawnServe, until } from '../helpers/cli.js';
import { makePairs, TestClient, useTwoPairStore } from './helpers.js';

const fx = useTwoPairStore('serve-session');

type Serve = ReturnType<typeof spawnCli>;

/** Starts serve and returns it with its first link (the loopback one, carrying the token). */
function serve(args: string[], port = '0'): Promise<{ s: Serve; link: string }> {
  return spawnServe(fx.storePath, args, port);
}

/** A person answers both pairs (`undoFirst`: the first answer is undone, and the pair, back, answered again). */
async function person(link: string, name: string, pick: (n: number) => 'a' | 'b' | 'equal', undoFirst = false): Promise<void> {
  const token = new URL(link).searchParams.get('token') ?? undefined;
  const c = await TestClient.open(link);
  try {
    await c.hello({ name, token });
    for (let n = 0; n < 2; n++) {
      const side = pick(n);
      const choice = (p: { leftIs: 'a' | 'b' }) => (side === 'equal' ? 'equal' : side === p.leftIs ? 'left' : 'right');
      const p = await c.answerNext({ name, labelId: `h-${name}-serve-session-${n}`, choice, responseMs: 1000, leftIs: true });
      if (n === 0 && undoFirst) {
        c.send({ type: 'undo', labelId: `h-${name}-serve-session-0`, name });
        await c.next('undone');
        const back = await c.next('pair');
        expect(back.pairId).toBe(p.pairId);
        c.send({ type: 'answer', labelId: `h-${name}-serve-session-0b`, pairId: back.pairId, name, choice: choice(back), responseMs: 1200, leftIs: back.leftIs });
        await c.next('ack');
      }
    }
  } finally {
    c.close();
  }
}

it('prints a line per answer, says when every pair has its answers, and stops with who answered and the agreement; the made-up token is given for the restart, where the old link still works', async () => {
  const { s, link } = await serve(['--host', '0.0.0.0', '--overlap', '2']);
  let stopped = false;
  try {
    const token = new URL(link).searchParams.get('token');
    expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // Each link says for whom it is: the loopback one works only on this machine.
    const lan = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => !a.internal && a.family === 'IPv4').map((a) => a.address));
    const port0 = new URL(link).port;
    const opens = s.stderr().split('\n').filter((l) => l.startsWith('[prefrl] open ') || l.startsWith('[prefrl] no network address'));
    expect(opens).toEqual(
      lan.length > 0
        ? [`[prefrl] open ${link} (on this machine)`, ...lan.map((a) => `[prefrl] open http://${a}:${port0}/?token=${token} (from other machines)`)]
        : [`[prefrl] open ${link}`, `[prefrl] no network address of this machine was found: from other machines, open http://<this machine's address>:${port0}/?token=${token}`],
    );
    // ada prefers the first clip (a) of both pairs; bob a on his first pair, "equal" on his second: one of the two comparisons agrees.
    await person(link, 'ada', () => 'a', true);
    await person(link, 'bob', (n) => (n === 0 ? 'a' : 'equal'));
    const done = 'every pair has the answers it wants';
    await until('the last answer lines', () => (s.stderr().includes(done) ? true : null), s.stderr);
    const lines = s.stderr().split('\n').filter((l) => l.startsWith('[prefrl] answer ') || l.includes(done));
    expect(lines).toEqual([
      '[prefrl] answer from human:ada (1 by them): 1 label stored, 1 new this session; 2 pairs waiting for people',
      '[prefrl] answer undone by human:ada (0 by them): 0 labels stored, 0 new this session; 2 pairs waiting for people',
      '[prefrl] answer from human:ada (1 by them): 1 label stored, 1 new this session; 2 pairs waiting for people',
      '[prefrl] answer from human:ada (2 by them): 2 labels stored, 2 new this session; 2 pairs waiting for people',
      '[prefrl] answer from human:bob (1 by them): 3 labels stored, 3 new this session; 1 pair waiting for people; agreement 1 of 1 comparison (1.000)',
      '[prefrl] answer from human:bob (2 by them): 4 labels stored, 4 new this session; 0 pairs waiting for people; agreement 1 of 2 comparisons (0.500)',
      `[prefrl] ${done}: nothing to hand out (add pairs with prefrl pairs --trajectories <a rollout run> --store ${fx.storePath}; people's pages take them up)`,
    ]);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    stopped = true;
    expect(s.stdout()).toBe(`stopped: 4 new labels this session (human:ada 2, human:bob 2), 4 in ${fx.storePath}, 0 pairs waiting for people; agreement 1 of 2 comparisons (0.500)\n`);
    const port = new URL(link).port;
    expect(s.stderr()).toContain(`[prefrl] the links handed out name port ${port} and the access token ${token}: restart with --port ${port} --token ${token} so that they keep working\n`);

    // The restart as told (and without --overlap: the store's pairs still want 2 people each): the
    // link people hold still opens; nothing is waiting, and the start says so; the agreement is
    // still shown (the page was told overlap 1 and sent no agreement, and the summary had none).
    const again = await serve(['--host', '0.0.0.0', '--token', token as string, '--json'], port);
    try {
      expect(again.s.stderr()).toContain(`[prefrl] labelling toy-reach: 0 pairs waiting for people, 4 labels stored in ${fx.storePath}\n[prefrl] ${done}`);
      expect(again.s.stderr()).toContain('[prefrl] pairs of this store go to up to 2 different people (an earlier --overlap); agreement is shown on the page\n');
      const c = await TestClient.open(again.link);
      const welcome = await c.hello({ name: 'ada', token: token as string });
      expect(welcome).toMatchObject({ type: 'welcome', overlap: 2 });
      expect(await c.next('progress')).toMatchObject({ teacher: 2, total: 4, waiting: 0, agreement: { pairs: 2, comparisons: 2, agreeing: 1, fraction: 0.5 } });
      c.close();
    } finally {
      // This time the terminal goes away (SIGHUP): the session ends as on Ctrl-C, with its summary.
      again.s.child.kill('SIGHUP');
      expect(await again.s.exited).toBe(0);
    }
    // Nothing new this session, and no restart line (the port and the token were given).
    expect(again.link).toBe(link);
    const summary = JSON.parse(again.s.stdout().trim().split('\n').at(-1) as string) as Record<string, unknown>;
    expect(summary).toMatchObject({ labelsAdded: 0, labelsAddedBy: {}, labels: 4, pending: 0, waitingForPeople: 0, agreement: 0.5 });
    expect(again.s.stderr()).not.toContain('the links handed out');
  } finally {
    if (!stopped) {
      s.child.kill('SIGINT');
      await s.exited;
    }
  }
}, 120_000);

it('--quiet leaves out the line per answer; the start and stop lines, and the one when every pair has its answers, stay', async () => {
  const quietStore = join(fx.dir, 'quiet.sqlite');
  const store = LabelStore.open(quietStore);
  store.putPairs((await makePairs('toy-reach', { episodes: 1, steps: 40, length: 10 })).slice(0, 1), { round: 0 });
  store.close();
  const s = spawnCli(['serve', '--store', quietStore, '--port', '0', '--quiet']);
  let stopped = false;
  try {
    const link = await until('the link', () => (/\[prefrl\] press Ctrl-C to stop/.test(s.stderr()) ? /open (http:\/\/127\.0\.0\.1:\d+\/[^\s]*)/.exec(s.stderr())?.[1] : null), s.stderr);
    const c = await TestClient.open(link);
    try {
      await c.hello({ name: 'ada' });
      await c.answerNext({ name: 'ada', labelId: 'h-ada-serve-quiet-0', choice: () => 'left', responseMs: 900, leftIs: true });
    } finally {
      c.close();
    }
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    stopped = true;
    expect(s.stdout()).toBe(`stopped: 1 new label this session (human:ada 1), 1 in ${quietStore}, 0 pairs waiting for people\n`);
    expect(s.stderr()).toContain('[prefrl] labelling toy-reach: 1 pair waiting for people, 0 labels stored in');
    expect(s.stderr()).not.toContain('[prefrl] answer from');
    // The milestone stays: the last pair answered.
    expect(s.stderr()).toContain(`[prefrl] every pair has the answers it wants: nothing to hand out (add pairs with prefrl pairs --trajectories <a rollout run> --store ${quietStore}; people's pages take them up)\n`);
  } finally {
    if (!stopped) {
      s.child.kill('SIGINT');
      await s.exited;
    }
  }
}, 60_000);

it('a made-up token never starts with "-" (the restart line passes it as --token <it>, where "-..." reads as a flag): 5,000 drawn', () => {
  const tokens = Array.from({ length: 5000 }, () => madeUpToken());
  expect(tokens.filter((t) => !/^[A-Za-z0-9_][A-Za-z0-9_-]{23}$/.test(t))).toEqual([]);
  // Drawn, not fixed: 5,000 different ones.
  expect(new Set(tokens).size).toBe(5000);
});
