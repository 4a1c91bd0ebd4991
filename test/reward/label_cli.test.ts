/**
 * `prefrl label`: a synthetic teacher answers the pairs of a store it has not answered yet, next
 * to other teachers' labels; again it adds nothing; people and the regret teacher are refused.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePair, segmentReturn } from '../../reward/segments.js';
import { LabelStore } from '../../reward/store.js';
import { labelId } from '../../reward/teachers/synthetic.js';
import type { Pair } from '../../reward/types.js';
import { main } from '../../scripts/cli.js';
import { teacherStats } from '../../scripts/commands/labels.js';
import { renderToolsAvailable } from '../../viewer/render.js';
import { captureCli, lastJson } from '../helpers/cli.js';
import { makePairs } from '../viewer/helpers.js';

let root = '';
let store = '';
let pairs: Pair[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'label-cli-'));
  const segs = (await makePairs('toy-reach', { episodes: 8, steps: 20, length: 10, seed: 4 })).flatMap((p) => [p.a, p.b]);
  const half = segs.length / 2;
  pairs = segs.slice(0, half).map((a, i) => makePair(a, segs[half + i]));
  store = join(root, 'labels.sqlite');
  const s = LabelStore.open(store, { envId: 'toy-reach', modelHash: pairs[0].a.modelHash });
  try {
    s.putPairs(pairs);
    // A person answered two pairs, the first one against the true return.
    s.addLabels(
      pairs.slice(0, 2).map((p, i) => {
        const truth = segmentReturn(p.a) > segmentReturn(p.b) ? 1 : 0;
        return { id: labelId('human:ada', p.id), pairId: p.id, teacher: 'human:ada', kind: 'preference' as const, probFirst: i === 0 ? 1 - truth : truth };
      }),
    );
  } finally {
    s.close();
  }
});

describe('prefrl label', () => {
  it('answers every pair the teacher has not answered, beside the people\'s labels; again adds nothing', async () => {
    const c = captureCli();
    expect(await main(['label', '--store', store, '--teacher', 'oracle', '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    expect(lastJson(c.out)).toEqual({ store, teacher: 'oracle', pairs: 8, alreadyAnswered: 0, added: 8, preferences: 8, ties: 0, skips: 0 });
    const again = captureCli();
    expect(await main(['label', '--store', store, '--teacher', 'oracle', '--quiet', '--json'], again.ctx)).toBe(0);
    expect(lastJson(again.out)).toMatchObject({ alreadyAnswered: 8, added: 0 });
    const s = LabelStore.open(store, { create: false });
    try {
      const stats = teacherStats(s);
      expect(stats.find((t) => t.teacher === 'oracle')).toMatchObject({ labels: 8, agreementWithTrueReturn: 1 });
      expect(stats.find((t) => t.teacher === 'human:ada')).toMatchObject({ labels: 2, agreementWithTrueReturn: 0.5 });
      // The person and the oracle on their two shared pairs: one agreement.
      expect(s.agreement()).toMatchObject({ pairs: 2, comparisons: 2, agreeing: 1 });
    } finally {
      s.close();
    }
  });

  it('counts ties apart from preferences: a HERON teacher whose one margin no pair exceeds ties on every pair', async () => {
    const configs = [1e6, 1e7].map((margin, i) => {
      const file = join(root, `heron_tie${i}.json`);
      writeFileSync(file, JSON.stringify({ ranking: ['goal_distance'], margins: [margin] }));
      return file;
    });
    const c = captureCli();
    expect(await main(['label', '--store', store, '--teacher', `heron:${configs[0]}`, '--quiet', '--json'], c.ctx), c.err.join('')).toBe(0);
    expect(lastJson(c.out)).toMatchObject({ added: 8, preferences: 0, ties: 8, skips: 0 });
    const text = captureCli();
    expect(await main(['label', '--store', store, '--teacher', `heron:${configs[1]}`, '--quiet'], text.ctx)).toBe(0);
    expect(text.out.join('')).toContain(`heron:${configs[1]}: 8 new labels (0 preferences, 8 ties, 0 skips) on 8 pairs`);
    const s = LabelStore.open(store, { create: false });
    try {
      expect(teacherStats(s).find((t) => t.teacher === `heron:${configs[0]}`)).toMatchObject({ labels: 8, preferences: 0, ties: 8, skips: 0, agreementWithTrueReturn: null });
    } finally {
      s.close();
    }
  });

  it('refuses people, the regret teacher, unknown teachers and stores without pairs', async () => {
    const empty = join(root, 'empty.sqlite');
    LabelStore.open(empty, { envId: 'toy-reach' }).close();
    const bare = join(root, 'bare');
    mkdirSync(bare);
    const cases: [string[], number, RegExp][] = [
      [['--store', store, '--teacher', 'human'], 2, /^prefrl label: --teacher human: people answer through the viewer: prefrl serve --store <store>\n$/],
      [['--store', store, '--teacher', 'regret'], 2, /^prefrl label: --teacher regret: needs an expert's value function/],
      [['--store', store, '--teacher', 'bogus'], 2, /^prefrl label: --teacher: unknown teacher "bogus"/],
      [['--store', empty, '--teacher', 'oracle'], 1, /^prefrl label: .*empty\.sqlite: holds no pairs \(make some with prefrl pairs\)\n$/],
      [['--store', join(root, 'nope.sqlite'), '--teacher', 'oracle'], 2, /^prefrl label: --store: .*nope\.sqlite not found \(a label store, e\.g\. runs\/<id>\/labels\.sqlite\)\n$/],
      [['--store', root, '--teacher', 'oracle'], 2, /^prefrl label: --store: .* is a folder; give the label store file, e\.g\. .*label-cli-\w+\/labels\.sqlite\n$/],
      // A folder with no store in it is not told to give one that is not there.
      [['--store', bare, '--teacher', 'oracle'], 2, /^prefrl label: --store: .*\/bare is a folder; give the label store file, e\.g\. runs\/<id>\/labels\.sqlite \(this folder holds no labels\.sqlite\)\n$/],
      // --env naming another env than the store's segments (a VLM would render the wrong robot).
      [['--store', store, '--teacher', 'oracle', '--env', 'reacher'], 2, /^prefrl label: --env reacher: the store holds segments of toy-reach \(model toy-reach-v1\), not of reacher \(model \w+\); leave --env out, or give the env the segments were recorded on\n$/],
    ];
    const labelCount = () => {
      const s = LabelStore.open(store, { create: false });
      const n = s.counts().labels;
      s.close();
      return n;
    };
    const before = labelCount();
    for (const [args, code, msg] of cases) {
      const c = captureCli();
      expect(await main(['label', ...args], c.ctx), args.join(' ')).toBe(code);
      expect(c.err.join('')).toMatch(msg);
    }
    // None of them labelled anything.
    expect(labelCount()).toBe(before);
  });

  it('with a VLM teacher, says what the run cost: requests, cache hits and tokens (text and --json); a second run is answered from the cache', { timeout: 120_000 }, async () => {
    if (!renderToolsAvailable(false)) throw new Error('this test renders frames with headless Chromium: apt-get install -y chromium');
    // An OpenAI-compatible stub on loopback: stage 1 gets an analysis, stage 2 the label "0"; 7 + 2 tokens per reply.
    let requests = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        requests++;
        const stage2 = (JSON.parse(body) as { messages: { role: string }[] }).messages.some((m) => m.role === 'assistant');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: stage2 ? '0' : 'The first arm is closer.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const dir = mkdtempSync(join(tmpdir(), 'label-vlm-'));
      const vpairs = await makePairs('reacher', { episodes: 2, steps: 20, length: 10, seed: 2 });
      const path = join(dir, 'labels.sqlite');
      const s = LabelStore.open(path, { envId: 'reacher', modelHash: vpairs[0].a.modelHash });
      s.putPairs(vpairs.slice(0, 2));
      s.close();
      const teacherSpec = `vlm:baseUrl=http://127.0.0.1:${(server.address() as AddressInfo).port}/v1,model=stub-vl,keyEnv=PREFRL_TEST_UNSET_KEY`;
      const c = captureCli();
      expect(await main(['label', '--store', path, '--teacher', teacherSpec, '--quiet'], c.ctx), c.err.join('')).toBe(0);
      expect(requests).toBe(4);
      expect(c.out.join('')).toContain('VLM usage: 4 requests (0 retries, 0 errors), 0 answers from the cache; tokens 28 prompt + 8 completion = 36\n');
      // Answered pairs are not asked again.
      const again = captureCli();
      expect(await main(['label', '--store', path, '--teacher', teacherSpec, '--quiet', '--json'], again.ctx)).toBe(0);
      expect(lastJson(again.out)).toMatchObject({ added: 0, usage: { 'vlm/requests': 0, 'vlm/total_tokens': 0 } });
      // The same pairs in another store of the folder: the shared answer cache (vlm_cache/) answers, nothing is sent.
      const other = join(dir, 'copy.sqlite');
      const s2 = LabelStore.open(other, { envId: 'reacher', modelHash: vpairs[0].a.modelHash });
      s2.putPairs(vpairs.slice(0, 2));
      s2.close();
      const cached = captureCli();
      expect(await main(['label', '--store', other, '--teacher', teacherSpec, '--quiet', '--json'], cached.ctx)).toBe(0);
      expect(lastJson(cached.out)).toMatchObject({ added: 2, preferences: 2, usage: { 'vlm/requests': 0, 'vlm/cache_hits': 4, 'vlm/total_tokens': 0, 'vlm/saved_prompt_tokens': 28, 'vlm/saved_completion_tokens': 8 } });
      expect(requests).toBe(4);
      // A raised analysis limit is another teacher (its own labels), but every reply ended on its own
      // within it: all four come from the cache, nothing is sent.
      const raised = captureCli();
      expect(await main(['label', '--store', path, '--teacher', `${teacherSpec},analysisMaxTokens=4096`, '--quiet', '--json'], raised.ctx), raised.err.join('')).toBe(0);
      expect(lastJson(raised.out)).toMatchObject({ added: 2, preferences: 2, usage: { 'vlm/requests': 0, 'vlm/cache_hits': 4 } });
      expect(requests).toBe(4);
    } finally {
      server.close();
    }
  });
});
