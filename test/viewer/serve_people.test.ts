/**
 * `prefrl serve --people` as whoever runs a study uses it: a link per person printed (and no
 * shared link), each signing its holder in under their name; the made-up token the links come
 * from is given for the restart, which prints the same links. Bad --people / --human-people
 * values exit 2 naming the flag or the file, before anything starts.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../core/log.js';
import { LabelStore } from '../../reward/store.js';
import { HumanTeacher } from '../../reward/teachers/human.js';
import { main } from '../../scripts/cli.js';
import { personalToken } from '../../viewer/access.js';
import { captureCli, spawnCli, until } from '../helpers/cli.js';
import { makePairs, TestClient, useTwoPairStore } from './helpers.js';

const fx = useTwoPairStore('serve-people');

/** serve started with `args`; resolves once it says "press Ctrl-C", with the lines it logged by then. */
async function serve(args: string[]): Promise<{ s: ReturnType<typeof spawnCli>; lines: string[] }> {
  const s = spawnCli(['serve', '--store', fx.storePath, ...args]);
  await until(
    'the start lines',
    () => {
      if (s.child.exitCode !== null) throw new Error(`serve exited ${s.child.exitCode}: ${s.stderr()}`);
      return /\[prefrl\] press Ctrl-C to stop/.test(s.stderr()) ? true : null;
    },
    s.stderr,
  );
  return { s, lines: s.stderr().split('\n') };
}

async function stop(s: ReturnType<typeof spawnCli>): Promise<void> {
  s.child.kill('SIGINT');
  expect(await s.exited).toBe(0);
}

describe('prefrl serve --people', () => {
  it('prints a link per person and none shared; a link signs its holder in; the restart the stop line gives (with --people) prints the same links, one with the token alone lets none in', async () => {
    const first = await serve(['--port', '0', '--people', 'Ada, Alan Turing']);
    let restarted: Awaited<ReturnType<typeof serve>> | null = null;
    let tokenOnly: Awaited<ReturnType<typeof serve>> | null = null;
    try {
      const port = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(first.s.stderr())?.[1];
      expect(port).toBeDefined();
      const people = first.lines.filter((l) => l.startsWith('[prefrl]   '));
      expect(first.lines).toContain('[prefrl] --people: generated the access token the personal links are made from (pass --token to choose one)');
      expect(first.lines).toContain('[prefrl] 2 personal links: give each person theirs alone (it signs them in under their name; the page lets no one in without one)');
      expect(first.lines.filter((l) => l.startsWith('[prefrl] open '))).toEqual([]);
      expect(people).toHaveLength(2);
      const ada = /^\[prefrl\] {3}Ada: (http:\/\/127\.0\.0\.1:\d+\/\?token=([A-Za-z0-9_-]{24}))$/.exec(people[0]);
      expect(ada, people[0]).not.toBeNull();
      const [, adaLink, adaToken] = ada as RegExpExecArray;
      expect(people[1]).toMatch(/^\[prefrl\] {3}Alan Turing: http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{24}$/);
      // Ada's link: her name, whatever the page says; her answer stored under it.
      const page = await TestClient.open(adaLink);
      const w = await page.hello({ token: adaToken, name: 'someone' });
      expect([w.name, w.personal]).toEqual(['Ada', true]);
      await page.answerNext({ name: 'Ada', labelId: 'h-ada-serve-people-0', choice: 'left', responseMs: 700, leftIs: true });
      page.close();
      await until('the answer line', () => (first.s.stderr().includes('answer from human:Ada') ? true : null), first.s.stderr);
      await stop(first.s);
      // The stop line names all the links depend on: the port, the made-up token and the names, as given (quoted for the shell).
      const keep = /\[prefrl\] the personal links handed out depend on port (\d+), the access token (\S+) and the names of --people: restart with --port (\d+) --token (\S+) --people 'Ada, Alan Turing' so that they keep working\n/.exec(
        first.s.stderr(),
      );
      expect(keep, first.s.stderr()).not.toBeNull();
      const [, saidPort, saidToken, keptPort, token] = keep as RegExpExecArray;
      expect([saidPort, keptPort, saidToken]).toEqual([port, port, token]);
      // The links are the token's and the names': the restart with both hands out the very same ones.
      expect(adaToken).toBe(personalToken(token, 'Ada'));
      // A restart with the port and token alone (the stop line before --people was in it) is a server
      // with a shared token only: Ada's link is refused as a wrong token, and nothing she sends is stored.
      tokenOnly = await serve(['--port', keptPort, '--token', token]);
      expect(tokenOnly.lines.filter((l) => l.startsWith('[prefrl]   '))).toEqual([]);
      const refused = await TestClient.open(adaLink);
      refused.send({ type: 'hello', v: 1, token: adaToken, name: 'Ada' });
      const e = await refused.next('error');
      expect([e.code, e.message]).toEqual(['unauthorized', 'wrong access token']);
      expect(await refused.closed()).toBe(4401);
      await stop(tokenOnly.s);
      tokenOnly = null;
      restarted = await serve(['--port', keptPort, '--token', token, '--people', 'Ada, Alan Turing']);
      expect(restarted.lines.filter((l) => l.startsWith('[prefrl]   '))).toEqual(people);
      expect(restarted.lines.some((l) => l.includes('generated the access token'))).toBe(false);
      const again = await TestClient.open(adaLink);
      expect((await again.hello({ token: adaToken })).name).toBe('Ada');
      again.close();
      await stop(restarted.s);
      // Nothing made up this time (the port and token were given): no restart line.
      expect(restarted.s.stderr()).not.toContain('restart with');
      restarted = null;
    } finally {
      for (const r of [first, tokenOnly, restarted]) if (r && r.s.child.exitCode === null) r.s.child.kill('SIGKILL');
    }
    const store = LabelStore.open(fx.storePath);
    try {
      expect(store.labels().map((l) => l.teacher)).toEqual(['human:Ada']);
    } finally {
      store.close();
    }
  });

  it('with a chosen token and --port 0, the stop line gives the port and --people @file as given, and asks for the same token', async () => {
    const file = join(fx.dir, 'study people.txt');
    writeFileSync(file, '# study\nGrace\n');
    const token = 'chosen-token-for-serve-1';
    const { s } = await serve(['--port', '0', '--token', token, '--people', `@${file}`]);
    try {
      const port = /Grace: http:\/\/127\.0\.0\.1:(\d+)\//.exec(s.stderr())?.[1];
      expect(port, s.stderr()).toBeDefined();
      await stop(s);
      // The file's name has a space: quoted so that the line pastes as it is. The chosen token is not printed.
      expect(s.stderr()).toContain(
        `[prefrl] the personal links handed out depend on port ${port} and the names of --people: restart with --port ${port} --people '@${file}' (and the same --token) so that they keep working\n`,
      );
      expect(s.stderr()).not.toContain(token);
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });
});

describe('the human teacher of train / offline with people (--human-people)', () => {
  it("prints each person's link once, and a page on one is signed in as that person; the shared link lets no page in", async () => {
    const store = LabelStore.open(join(fx.dir, 'human-people.sqlite'));
    const lines: string[] = [];
    const logger = new Logger({ write: (l: string) => void lines.push(l) });
    const token = 'human-teacher-token-1';
    const teacher = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, token, people: ['Ada', 'Alan'], timeoutS: 0, pollMs: 20, logger });
    try {
      const [p0] = await makePairs('toy-reach', { episodes: 1, steps: 20, length: 10 });
      const asked = teacher.label([p0]);
      await until('the links', () => (lines.some((l) => l.includes('Alan: ')) ? true : null), () => lines.join(''));
      const text = lines.join('');
      expect(text).toMatch(/human teacher: 1 pair waiting for answers at the people's own links \(below\) \(no timeout\)/);
      const ada = new RegExp(`  Ada: (http://127\\.0\\.0\\.1:\\d+/\\?token=${personalToken(token, 'Ada')})`).exec(text);
      expect(ada, text).not.toBeNull();
      expect(text).toContain(`  Alan: http://127.0.0.1:`);
      expect(text).not.toContain(`token=${token}`);
      const shared = await TestClient.open((ada as RegExpExecArray)[1]);
      shared.send({ type: 'hello', v: 1, token });
      expect((await shared.next('error')).code).toBe('unauthorized');
      const page = await TestClient.open((ada as RegExpExecArray)[1]);
      expect((await page.hello({ token: personalToken(token, 'Ada') })).name).toBe('Ada');
      await page.answerNext({ name: 'Ada', labelId: 'h-ada-human-people-0', choice: 'left', responseMs: 600, leftIs: true });
      expect((await asked).map((l) => l.teacher)).toEqual(['human:Ada']);
      page.close();
    } finally {
      await teacher.close();
      store.close();
    }
  });
});

describe('bad --people values', () => {
  async function exit2(args: string[], code = 2): Promise<string> {
    const { ctx, err, out } = captureCli();
    expect(await main(args, ctx)).toBe(code);
    expect(out.join('')).toBe('');
    return err.join('');
  }

  it('serve names the flag (exit 2) or the file (exit 1, as for other bad files), before the store is opened', async () => {
    const missingStore = join(fx.dir, 'missing.sqlite');
    expect(await exit2(['serve', '--store', missingStore, '--people', 'Ada,Ada'])).toBe('prefrl serve: --people: "Ada" is named twice\n');
    expect(await exit2(['serve', '--store', missingStore, '--people', ' , '])).toMatch(/^prefrl serve: --people: expected a comma-separated list of names/);
    const noFile = join(fx.dir, 'people-missing.txt');
    expect(await exit2(['serve', '--store', missingStore, '--people', `@${noFile}`], 1)).toMatch(new RegExp(`^prefrl serve: ${noFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no such file`));
    expect(existsSync(missingStore)).toBe(false);
  });

  it('train and offline: --human-people needs --human-token, and a bad name is named', async () => {
    const runs = join(fx.dir, 'runs');
    expect(await exit2(['train', '--env', 'toy-reach', '--teacher', 'human', '--human-people', 'Ada', '--runs-dir', runs, '--quiet'])).toMatch(
      /--human-people: the personal links are made from the access token; give --human-token/,
    );
    expect(await exit2(['train', '--env', 'toy-reach', '--teacher', 'human', '--human-people', 'Ada,<b>', '--human-token', 'a-good-token-123', '--runs-dir', runs, '--quiet'])).toMatch(
      /--human-people: name 2 \("<b>"\) is not a name the page accepts/,
    );
    expect(await exit2(['offline', '--dataset', join(fx.dir, 'none.h5'), '--teacher', 'human', '--human-people', 'Ada', '--runs-dir', runs, '--quiet'])).toMatch(/--human-people: .*give --human-token/);
    expect(existsSync(runs)).toBe(false);
  });
});
