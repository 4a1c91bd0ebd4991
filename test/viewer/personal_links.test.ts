/**
 * Personal links (`serve --people`): each person's token is an HMAC of their name under the
 * server's token; a page is let in with one person's token only and everything it stores is
 * under that person's name. Pages are scripted WebSocket clients.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../../core/errors.js';
import type { LabelStore } from '../../reward/store.js';
import { HumanTeacher } from '../../reward/teachers/human.js';
import { checkHumanFlags, type HumanFlagValues, humanResumeArgs, humanServerSettings } from '../../scripts/commands/human_flags.js';
import { checkPeople, MAX_PEOPLE, parsePeople, personalToken, readPeople } from '../../viewer/access.js';
import { parseServerMessage } from '../../viewer/protocol.js';
import { ViewerServer } from '../../viewer/server.js';
import { serverFixture, TestClient } from './helpers.js';

const TOKEN = 'study-token-0123456789';
const fx = serverFixture('personal');

async function serve(people: string[] | undefined, token: string | undefined = TOKEN): Promise<{ store: LabelStore; server: ViewerServer }> {
  const store = fx.newStore();
  store.putPairs(fx.pairs.slice(0, 4), { round: 0 });
  const server = await fx.start(store, { token, people });
  return { store, server };
}

describe('personalToken', () => {
  it('is the first 24 base64url characters of HMAC-SHA256("prefrl-person\\0" + name) under the server token', () => {
    const want = createHmac('sha256', TOKEN).update(Buffer.from('prefrl-person\u0000Ada', 'utf8')).digest().toString('base64url').slice(0, 24);
    expect(personalToken(TOKEN, 'Ada')).toBe(want);
    expect(personalToken(TOKEN, 'Ada')).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // Another name or another server token gives another link; the same pair gives the same one (restarts).
    expect(personalToken(TOKEN, 'Alan')).not.toBe(want);
    expect(personalToken(`${TOKEN}x`, 'Ada')).not.toBe(want);
    expect(personalToken(TOKEN, 'Ada')).toBe(personalToken(TOKEN, 'Ada'));
  });
});

describe('--people values', () => {
  it('normalises names as the page does and keeps their order', () => {
    expect(parsePeople('Ada,  Alan   Turing ,Grace')).toEqual(['Ada', 'Alan Turing', 'Grace']);
  });

  it('refuses an empty list, a name the page would refuse and a repeated name, naming the flag', () => {
    expect(() => parsePeople(' , ', '--human-people')).toThrow(UsageError);
    expect(() => parsePeople(' , ', '--human-people')).toThrow(/^--human-people: expected a comma-separated list of names/);
    expect(() => parsePeople('Ada,,Alan')).toThrow(/--people: name 2 \(""\) is not a name the page accepts/);
    expect(() => parsePeople('Ada,<script>')).toThrow(/--people: name 2 \("<script>"\) is not a name the page accepts/);
    expect(() => parsePeople(`Ada,${'x'.repeat(41)}`)).toThrow(/name 2 .* is not a name the page accepts: 1 to 40 letters/);
    expect(() => parsePeople('Ada,Alan, Ada ')).toThrow(/--people: "Ada" is named twice/);
  });

  it('reads @file: one name per line, blank lines and # comments skipped', () => {
    const f = join(fx.dir, 'people.txt');
    writeFileSync(f, '# study 1\nAda\n\n  Alan Turing  \r\nGrace\n');
    expect(readPeople(`@${f}`)).toEqual(['Ada', 'Alan Turing', 'Grace']);
    expect(readPeople('Ada,Grace')).toEqual(['Ada', 'Grace']);
  });

  it('names the file for a missing, empty, folder or bad @file, and the flag for a bare @', () => {
    const missing = join(fx.dir, 'nobody.txt');
    expect(() => readPeople(`@${missing}`)).toThrow(InputError);
    expect(() => readPeople(`@${missing}`)).toThrow(`${missing}: no such file (--people @file: one name per line)`);
    const empty = join(fx.dir, 'empty.txt');
    writeFileSync(empty, '# nobody yet\n\n');
    expect(() => readPeople(`@${empty}`, '--human-people')).toThrow(`${empty}: holds no names (--human-people @file`);
    const folder = join(fx.dir, 'a-folder');
    mkdirSync(folder);
    expect(() => readPeople(`@${folder}`)).toThrow(`${folder}: is a folder, not a file of names`);
    const comma = join(fx.dir, 'comma.txt');
    writeFileSync(comma, 'Ada\nTuring, Alan\n');
    expect(() => readPeople(`@${comma}`)).toThrow(`${comma}: name 2 ("Turing, Alan") holds a comma: one name per line`);
    const twice = join(fx.dir, 'twice.txt');
    writeFileSync(twice, 'Ada\nAda\n');
    expect(() => readPeople(`@${twice}`)).toThrow(`${twice}: "Ada" is named twice`);
    expect(() => readPeople('@')).toThrow(/^--people @: name the file after the @/);
  });
});

describe('checkPeople: the one rule of parsePeople and the server', () => {
  it('refuses no one, too many, a name not normalised and a name twice, naming the flag given', () => {
    expect(() => checkPeople([], '--human-people')).toThrow(new UsageError('--human-people: name at least one person'));
    const many = Array.from({ length: MAX_PEOPLE + 1 }, (_, i) => `p${i}`);
    expect(() => checkPeople(many)).toThrow(new UsageError('--people: at most 1000 names, got 1001'));
    expect(() => checkPeople(many.slice(0, MAX_PEOPLE))).not.toThrow();
    expect(() => checkPeople(['Ada', ' Alan'])).toThrow(new UsageError('--people: " Alan" is not a normalised name'));
    expect(() => checkPeople(['Ada', 'Alan  Turing'])).toThrow(new UsageError('--people: "Alan  Turing" is not a normalised name'));
    expect(() => checkPeople(['Ada', 7 as unknown as string])).toThrow(new UsageError('--people: 7 is not a normalised name'));
    expect(() => checkPeople(['Ada', 'Alan', 'Ada'], '--human-people')).toThrow(new UsageError('--human-people: "Ada" is named twice'));
    expect(() => checkPeople(['Ada', 'Alan Turing'])).not.toThrow();
  });

  it('parsePeople applies it after normalising: the same messages for too many and twice', () => {
    const many = Array.from({ length: MAX_PEOPLE + 1 }, (_, i) => `p${i}`).join(',');
    expect(() => parsePeople(many, '--human-people')).toThrow(new UsageError('--human-people: at most 1000 names, got 1001'));
    expect(() => parsePeople('Ada, Alan   Turing,Grace,Alan Turing')).toThrow(new UsageError('--people: "Alan Turing" is named twice'));
  });

  it('refuses two names that differ only in case (one person with two links and two teacher names, most likely a typo)', () => {
    expect(() => parsePeople('Ada,Alan,ada')).toThrow(
      new UsageError('--people: "Ada" and "ada" differ only in case; name each person once (names are case-sensitive: they would be two teachers, human:Ada and human:ada)'),
    );
    expect(() => checkPeople(['alan turing', 'Alan Turing'], '--human-people')).toThrow(/^--human-people: "alan turing" and "Alan Turing" differ only in case/);
    expect(parsePeople('Ada,Adam')).toEqual(['Ada', 'Adam']);
  });

  it('the server refuses the same lists with the same messages (a script passing people itself)', async () => {
    const store = fx.newStore();
    const { env, site } = fx;
    const start = (people: string[]) => ViewerServer.start({ store, env, port: 0, staticDir: site, token: TOKEN, people });
    await expect(start(Array.from({ length: MAX_PEOPLE + 1 }, (_, i) => `p${i}`))).rejects.toThrow(new UsageError('--people: at most 1000 names, got 1001'));
    await expect(start(['Ada', 'Alan  Turing'])).rejects.toThrow(new UsageError('--people: "Alan  Turing" is not a normalised name'));
  });
});

describe('--human-people of train and offline (human_flags.ts)', () => {
  const flagsWith = (humanPeople: string | undefined, token: string | null = TOKEN): HumanFlagValues => ({
    humanPort: 0,
    humanHost: '127.0.0.1',
    humanToken: token ?? undefined,
    humanTimeout: 0,
    humanOnTimeout: 'skip',
    humanOverlap: 1,
    humanPeople,
  });

  it('an @file is read once, by the check: the settings pass on that list though the file changed since', () => {
    const file = join(fx.dir, 'human-people.txt');
    writeFileSync(file, 'Ada\nAlan\n');
    const f = flagsWith(`@${file}`);
    checkHumanFlags(f);
    writeFileSync(file, 'Grace\nGrace\n');
    expect(humanServerSettings(f).people).toEqual(['Ada', 'Alan']);
    // Flags never checked (another object, same values) are read when the settings are made: the file as it is now.
    expect(() => humanServerSettings(flagsWith(`@${file}`))).toThrow(`${file}: "Grace" is named twice`);
    expect(humanServerSettings(flagsWith('Ada, Alan   Turing')).people).toEqual(['Ada', 'Alan Turing']);
    expect('people' in humanServerSettings(flagsWith(undefined))).toBe(false);
  });

  it("the human teacher's own server (a script passing people) names --human-people and --human-token too", async () => {
    const cases: [string[], string | undefined, string][] = [
      [['Ada', 'Ada'], TOKEN, 'human teacher: --human-people: "Ada" is named twice'],
      [['Ada'], undefined, 'human teacher: --human-people: personal links are made from the access token; give --human-token'],
      [[], TOKEN, 'human teacher: --human-people: name at least one person'],
      // A name is quoted as given: only the flag names are the human teacher's (a rewrite of the message also changed "x--token").
      [['x--token', 'x--token'], TOKEN, 'human teacher: --human-people: "x--token" is named twice'],
    ];
    for (const [people, token, message] of cases) {
      const store = fx.newStore();
      const teacher = new HumanTeacher({ store, env: { id: 'toy-reach' }, port: 0, token, people, staticDir: fx.site, timeoutS: 0, pollMs: 20 });
      try {
        await expect(teacher.label([fx.pairs[0]])).rejects.toThrow(new UsageError(message));
      } finally {
        await teacher.close();
      }
    }
  });

  it('a bad list or a missing token is refused by the check, naming --human-people', () => {
    expect(() => checkHumanFlags(flagsWith('Ada,Ada'))).toThrow(new UsageError('--human-people: "Ada" is named twice'));
    expect(() => checkHumanFlags(flagsWith('Ada', null))).toThrow(/^--human-people: the personal links are made from the access token; give --human-token/);
    const missing = join(fx.dir, 'no-such-people.txt');
    expect(() => checkHumanFlags(flagsWith(`@${missing}`))).toThrow(new InputError(missing, 'no such file (--human-people @file: one name per line)'));
  });

  it("a stopped run's resume command carries the --human-* flags given (in the flags' order, values quoted), never the token itself", () => {
    const f = { ...flagsWith('Ada,Alan Turing'), humanHost: '0.0.0.0', humanOverlap: 2 };
    const args = humanResumeArgs(f, ['humanPeople', 'humanToken', 'humanHost', 'humanOverlap']);
    expect(args).toBe(" --human-host 0.0.0.0 --human-token <the same token> --human-overlap 2 --human-people 'Ada,Alan Turing'");
    expect(args).not.toContain(TOKEN);
    expect(humanResumeArgs(flagsWith(`@${join(fx.dir, 'my people.txt')}`), ['humanPeople'])).toBe(` --human-people '@${join(fx.dir, 'my people.txt')}'`);
    expect(humanResumeArgs(f, ['seed', 'labels'])).toBe('');
    // --human-port 0 stays 0 where no server of this process picked a port on the store (the picked one: human_resume, human_offline).
    expect(humanResumeArgs({ ...f, humanPort: 0 }, ['humanPort'], join(fx.dir, 'never-served.sqlite'))).toBe(' --human-port 0');
  });
});

describe('a server with --people', () => {
  it('needs a token and at least one normalised name, none twice', async () => {
    const store = fx.newStore();
    const { env, site } = fx;
    await expect(ViewerServer.start({ store, env, port: 0, staticDir: site, people: ['Ada'] })).rejects.toThrow(/--people: personal links are made from the access token; give --token/);
    await expect(ViewerServer.start({ store, env, port: 0, staticDir: site, token: TOKEN, people: [] })).rejects.toThrow(/--people: name at least one person/);
    await expect(ViewerServer.start({ store, env, port: 0, staticDir: site, token: TOKEN, people: [' Ada'] })).rejects.toThrow(/not a normalised name/);
    await expect(ViewerServer.start({ store, env, port: 0, staticDir: site, token: TOKEN, people: ['Ada', 'Ada'] })).rejects.toThrow(/"Ada" is named twice/);
  });

  it('gives each person links with their own token, in the order given', async () => {
    const { server } = await serve(['Ada', 'Alan Turing']);
    const links = server.personLinks();
    expect(links.map((l) => l.name)).toEqual(['Ada', 'Alan Turing']);
    expect(links[0].links).toEqual([`${server.url}?token=${personalToken(TOKEN, 'Ada')}`]);
    expect(links[1].links).toEqual([`${server.url}?token=${personalToken(TOKEN, 'Alan Turing')}`]);
    const plain = await serve(undefined);
    expect(plain.server.personLinks()).toEqual([]);
  });

  it("signs a page in as the link's person, whatever name it says, and stores its answers under that name only", async () => {
    const { store, server } = await serve(['Ada', 'Alan']);
    const page = await TestClient.open(server.url);
    // The browser remembered another name: the link decides.
    const w = await page.hello({ token: personalToken(TOKEN, 'Ada'), name: 'bob' });
    expect(w.name).toBe('Ada');
    expect(w.personal).toBe(true);
    // Another name is refused for a rename, an answer and an undo; nothing is stored under it.
    page.send({ type: 'set_name', name: 'bob', seq: 1 });
    const renamed = await page.next('error');
    expect(renamed).toMatchObject({ code: 'not_allowed', re: 1 });
    expect(renamed.message).toBe("This page's link signs you in as Ada: nothing is stored under another name (bob).");
    page.send({ type: 'next' });
    const p = await page.next('pair');
    page.send({ type: 'answer', labelId: 'h-bob-0000000001', pairId: p.pairId, name: 'bob', choice: 'left', responseMs: 800, leftIs: p.leftIs });
    const refused = await page.next('error');
    expect(refused).toMatchObject({ code: 'not_allowed', labelId: 'h-bob-0000000001' });
    page.send({ type: 'undo', labelId: 'h-bob-0000000001', name: 'bob' });
    expect(await page.next('error')).toMatchObject({ code: 'not_allowed', labelId: 'h-bob-0000000001' });
    expect(store.counts().labels).toBe(0);
    // Its own name: stored as human:Ada.
    page.send({ type: 'answer', labelId: 'h-ada-0000000001', pairId: p.pairId, name: 'Ada', choice: 'right', responseMs: 900, leftIs: p.leftIs });
    await page.next('ack');
    expect(store.labels().map((l) => [l.id, l.teacher])).toEqual([['h-ada-0000000001', 'human:Ada']]);
    expect(store.teachers().map((t) => t.id)).not.toContain('human:bob');
    // A set_name of its own name is no rename: no error.
    page.send({ type: 'set_name', name: 'Ada' });
    page.send({ type: 'next' });
    await page.next('pair');
    expect(page.received.filter((m) => m.type === 'error')).toHaveLength(3);
    page.close();
  });

  it("lets no page in with the study's shared token, another token or none, and says why", async () => {
    const { server } = await serve(['Ada']);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ token: TOKEN }, /own links only: open the link you were given \(the study's shared token is not one\)/],
      [{ token: personalToken(TOKEN, 'Alan') }, /^wrong access token \(open the link you were given\)$/],
      [{}, /needs your personal access token/],
    ];
    for (const [hello, why] of cases) {
      const page = await TestClient.open(server.url);
      page.send({ type: 'hello', v: 1, ...hello });
      const e = await page.next('error');
      expect(e.code).toBe('unauthorized');
      expect(e.message).toMatch(why);
      expect(await page.closed()).toBe(4401);
    }
  });

  it('a server without --people welcomes as before: no personal field, names free to change', async () => {
    const { store, server } = await serve(undefined);
    const page = await TestClient.open(server.url);
    const w = await page.hello({ token: TOKEN, name: 'bob' });
    expect(w.name).toBe('bob');
    expect('personal' in w).toBe(false);
    page.send({ type: 'set_name', name: 'carol' });
    await page.answerNext({ name: 'carol', labelId: 'h-carol-000000001', choice: 'left', responseMs: 500 });
    expect(store.labels().map((l) => l.teacher)).toEqual(['human:carol']);
    page.close();
  });
});

describe('the welcome validator (the page side)', () => {
  const welcome = { type: 'welcome', v: 1, envId: 'toy-reach', goal: 'g', terms: [], dt: 0.1, name: 'Ada', overlap: 1, insight: false, heronPath: '/x/heron.json', maxCommentChars: 2000 };
  it('takes personal: true with a name, and refuses any other value or a personal welcome without a name', () => {
    const ok = parseServerMessage(JSON.stringify({ ...welcome, personal: true }));
    expect(ok.ok && ok.msg.type === 'welcome' && ok.msg.personal).toBe(true);
    const bad = parseServerMessage(JSON.stringify({ ...welcome, personal: false }));
    expect(bad.ok ? '' : bad.message).toMatch(/"personal" must be true when given/);
    const nameless = parseServerMessage(JSON.stringify({ ...welcome, name: null, personal: true }));
    expect(nameless.ok ? '' : nameless.message).toMatch(/a personal welcome must carry the person's name/);
  });
});
