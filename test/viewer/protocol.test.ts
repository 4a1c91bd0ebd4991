import { describe, expect, it } from 'vitest';
import {
  answerLabel,
  base64ToBytes,
  base64ToFloat64,
  bytesToBase64,
  CLIENT_MESSAGE_TYPES,
  type ClientMessage,
  float64ToBase64,
  leftSideFor,
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_COMMENT_CHARS,
  normaliseName,
  parseClientMessage,
  parseServerMessage,
  probFirstOf,
  type ServerMessage,
  utf8Length,
} from '../../viewer/protocol.js';

const LABEL = 'h-0123456789abcdef0123456789abcdef';

function ok(text: string): ClientMessage {
  const r = parseClientMessage(text);
  if (!r.ok) throw new Error(`expected valid, got ${r.code}: ${r.message}`);
  return r.msg;
}

function bad(value: unknown): { code: string; message: string; re?: number; labelId?: string } {
  const r = parseClientMessage(typeof value === 'string' ? value : JSON.stringify(value));
  if (r.ok) throw new Error(`expected invalid: ${JSON.stringify(value)}`);
  return r;
}

const VALID: Record<ClientMessage['type'], unknown> = {
  hello: { type: 'hello', v: 1, token: 'secret-token-123', name: 'Ada' },
  set_name: { type: 'set_name', name: '  Ada   Lovelace ' },
  next: { type: 'next', seq: 3 },
  answer: { type: 'answer', labelId: LABEL, pairId: 'p-1a2b3c', name: 'Ada', choice: 'left', responseMs: 1234.5, comment: 'the left one reaches the target' },
  undo: { type: 'undo', labelId: LABEL, name: 'Ada' },
  heron_preview: { type: 'heron_preview', config: { ranking: ['a', 'b'], margins: [0.5, 0.1], directions: { b: 'lower' } } },
  heron_save: { type: 'heron_save', config: { ranking: ['a'], margins: [0] } },
  view_pair: { type: 'view_pair', pairId: 'p-1a2b3c' },
};

describe('client messages', () => {
  it('accepts a valid message of every kind', () => {
    expect(Object.keys(VALID).sort()).toEqual([...CLIENT_MESSAGE_TYPES].sort());
    for (const [type, v] of Object.entries(VALID)) expect(ok(JSON.stringify(v)).type).toBe(type);
  });

  it('keeps the layout an answer was given on (leftIs)', () => {
    expect(ok(JSON.stringify({ ...(VALID.answer as object), leftIs: 'b' }))).toMatchObject({ type: 'answer', choice: 'left', leftIs: 'b' });
    expect('leftIs' in ok(JSON.stringify(VALID.answer))).toBe(false);
  });

  it('normalises names and drops an empty comment', () => {
    expect(ok(JSON.stringify(VALID.set_name))).toEqual({ type: 'set_name', name: 'Ada Lovelace' });
    const a = ok(JSON.stringify({ ...(VALID.answer as object), comment: '' }));
    expect('comment' in a).toBe(false);
    expect(normaliseName('x'.repeat(41))).toBeNull();
    expect(normaliseName('<script>')).toBeNull();
    expect(normaliseName('Zoë Ö_1')).toBe('Zoë Ö_1');
  });

  it('rejects a bad variant of every kind, echoing seq and label id', () => {
    const cases: [unknown, RegExp][] = [
      [{ type: 'hello' }, /"v"/],
      [{ type: 'hello', v: 1, token: 'has space' }, /token/],
      [{ type: 'hello', v: 1, extra: 1 }, /unknown field "extra"/],
      [{ type: 'set_name', name: '' }, /name/],
      [{ type: 'set_name', name: '\u0000bad' }, /name/],
      [{ type: 'next', pairId: 'p' }, /unknown field/],
      [{ ...(VALID.answer as object), choice: 'both' }, /choice/],
      [{ ...(VALID.answer as object), labelId: 'short' }, /^answer: "labelId" must have at least 8 characters$/],
      [{ type: 'undo', labelId: 'short', name: 'Ada' }, /^undo: "labelId" must have at least 8 characters$/],
      [{ ...(VALID.answer as object), labelId: 'h-../../etc/passwd-0000' }, /^answer: "labelId" has characters that are not allowed$/],
      [{ ...(VALID.answer as object), pairId: 'p 1' }, /pairId/],
      [{ ...(VALID.answer as object), responseMs: -1 }, /responseMs/],
      [{ ...(VALID.answer as object), responseMs: 'fast' }, /responseMs/],
      [{ ...(VALID.answer as object), comment: 'x'.repeat(MAX_COMMENT_CHARS + 1) }, /comment/],
      [{ ...(VALID.answer as object), comment: 'bell\u0007' }, /control/],
      [{ ...(VALID.answer as object), name: undefined }, /name/],
      [{ ...(VALID.answer as object), leftIs: 'left' }, /"leftIs" must be "a" or "b"/],
      [{ type: 'undo', labelId: LABEL }, /name/],
      [{ type: 'heron_preview', config: { ranking: ['a'], margins: [1, 2] } }, /one margin per/],
      [{ type: 'heron_preview', config: { ranking: [], margins: [] } }, /ranking/],
      [{ type: 'heron_save', config: { ranking: ['a'], margins: [-1] } }, /margins/],
      [{ type: 'heron_save', config: { ranking: ['a'], margins: [1], directions: { a: 'up' } } }, /higher/],
      [{ type: 'heron_save', config: { ranking: ['a'], margins: [1], weights: [] } }, /unknown field/],
      [{ type: 'view_pair' }, /pairId/],
    ];
    for (const [msg, why] of cases) {
      const r = bad(msg);
      expect(r.code, JSON.stringify(msg)).toBe('invalid');
      expect(r.message, JSON.stringify(msg)).toMatch(why);
    }
    const r = bad({ type: 'answer', seq: 7, labelId: LABEL });
    expect(r.re).toBe(7);
    expect(r.labelId).toBe(LABEL);
  });

  it('rejects non-JSON, non-objects and unknown types', () => {
    expect(bad('{not json').code).toBe('bad_json');
    expect(bad('[1,2]').code).toBe('invalid');
    expect(bad('null').code).toBe('invalid');
    expect(bad({ type: 'delete_everything' }).message).toMatch(/unknown message type/);
    expect(bad({ v: 1 }).message).toMatch(/"type"/);
  });

  it('bounds the message size', () => {
    const big = JSON.stringify({ ...(VALID.answer as object), comment: 'x'.repeat(10) }).replace('"comment"', `"pad":"${'y'.repeat(MAX_CLIENT_MESSAGE_BYTES)}","comment"`);
    const r = bad(big);
    expect(r.code).toBe('too_large');
    // Multi-byte characters count in bytes, not characters.
    const emoji = JSON.stringify({ type: 'set_name', name: `a${'é'.repeat(MAX_CLIENT_MESSAGE_BYTES / 2)}` });
    expect(utf8Length(emoji)).toBeGreaterThan(MAX_CLIENT_MESSAGE_BYTES);
    expect(bad(emoji).code).toBe('too_large');
    expect(parseClientMessage('{"type":"next"}', { maxBytes: 10 }).ok).toBe(false);
  });
});

describe('server messages', () => {
  const qpos = float64ToBase64(Float64Array.from({ length: 6 }, (_, i) => i / 3));
  const seg = { id: 's-1', length: 2, nq: 2, qpos };
  const valid: ServerMessage[] = [
    { type: 'welcome', v: 1, envId: 'reacher', goal: 'reach', terms: [{ name: 'd', weight: -1, doc: 'm' }], dt: 0.02, name: null, overlap: 1, insight: false, heronPath: '/x/heron.json', maxCommentChars: 2000 },
    { type: 'model', modelId: 'm-abc', model: { kind: 'xml', name: 'r', xml: '<mujoco/>', floorGrid: true } },
    { type: 'model', modelId: 'm-abc', model: { kind: 'files', name: 'arm.xml', main: 'arm.xml', files: [{ name: 'arm.xml', b64: 'PG11am9jby8+' }, { name: 'meshes/a.obj', b64: '' }] } },
    { type: 'pair', pairId: 'p-1', modelId: 'm-abc', envId: 'reacher', goal: 'reach', termNames: ['d', 'e'], round: 0, leftIs: 'b', left: seg, right: seg, dt: 0.02, leaseExpiresAt: 5, preview: false },
    { type: 'idle', reason: 'no_pairs' },
    { type: 'ack', labelId: LABEL, pairId: 'p-1', duplicate: true, re: 2 },
    { type: 'undone', labelId: LABEL, pairId: null },
    { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 2, comparisons: 2, fraction: 0.5 } },
    { type: 'error', code: 'invalid', message: 'no', labelId: LABEL },
    { type: 'insight', pairId: 'p-1', labelId: LABEL, probLeft: 0.7, rewardsLeft: [1, 2], rewardsRight: [0, 1], choice: 'right', agree: false },
    {
      type: 'heron_result',
      config: { ranking: ['d'], margins: [1] },
      decisions: [{ pairId: 'p-1', probFirst: 1, level: 0, term: 'd', diff: 0.3, threshold: 0.1, sumsA: [1], sumsB: [0.7], human: [1] }],
      stds: [0.1],
      poolSegments: 8,
      agreement: { pairs: 1, agreeing: 1 },
    },
    {
      type: 'heron_result',
      config: { ranking: ['d'], margins: [1] },
      decisions: [],
      stds: [0.1],
      poolSegments: 8,
      agreement: { pairs: 1, agreeing: 0, firstOf: { read: 2, total: 3 } },
    },
    { type: 'heron_saved', path: '/x/heron.json', config: { ranking: ['d'], margins: [1] } },
    { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 2, comparisons: 2, fraction: 0.5, kappa: -0.25 } },
    { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 2, comparisons: 2, agreeing: 1, fraction: 0.5, kappa: -0.25 } },
    { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 1, comparisons: 1, fraction: 1, kappa: null } },
    { type: 'welcome', v: 1, envId: 'reacher', goal: 'reach', terms: [], dt: 0.02, name: 'ada', overlap: 2, insight: true, heronPath: '/x/heron.json', maxCommentChars: 2000, storeId: '0123456789abcdef' },
  ];

  it('accepts a valid message of every kind and round-trips it', () => {
    for (const m of valid) {
      const r = parseServerMessage(JSON.stringify(m));
      expect(r.ok, m.type).toBe(true);
      if (r.ok) expect(r.msg).toEqual(m);
    }
  });

  it('rejects malformed ones', () => {
    const broken: unknown[] = [
      { ...valid[3], left: { ...seg, qpos: float64ToBase64(new Float64Array(5)) } },
      { ...valid[3], leftIs: 'c' },
      { ...valid[3], termNames: [1] },
      { ...valid[2], model: { kind: 'files', name: 'x', main: 'arm.xml', files: [{ name: '../etc/passwd', b64: '' }, { name: 'arm.xml', b64: '' }] } },
      { ...valid[2], model: { kind: 'files', name: 'x', main: 'arm.xml', files: [] } },
      { ...valid[1], model: { kind: 'xml', name: 'r', xml: '<mujoco/>', floorGrid: false } },
      { type: 'error', code: 'teapot', message: 'x' },
      { type: 'insight', ...(valid[9] as object), probLeft: 1.5 },
      { type: 'progress', teacher: -1, total: 0, waiting: 0, agreement: null },
      { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 2, comparisons: 2, fraction: 0.5, kappa: 1.5 } },
      { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 2, comparisons: 2, fraction: 0.5, kappa: 'high' } },
      { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 2, comparisons: 2, agreeing: 3, fraction: 0.5 } },
      { type: 'progress', teacher: 1, total: 3, waiting: 9, agreement: { pairs: 2, comparisons: 2, agreeing: 0.5, fraction: 0.5 } },
      { type: 'heron_result', config: { ranking: ['d'], margins: [1] }, decisions: [], stds: [0.1], poolSegments: 8, agreement: { pairs: 1, agreeing: 0, firstOf: { read: 3, total: 3 } } },
      { type: 'heron_result', config: { ranking: ['d'], margins: [1] }, decisions: [], stds: [0.1], poolSegments: 8, agreement: { pairs: 1, agreeing: 0, firstOf: 2 } },
      { type: 'mystery' },
      { ...(valid[0] as object), storeId: '' },
      { ...(valid[0] as object), storeId: 7 },
      { ...(valid[0] as object), storeId: 'a b<script>' },
    ];
    for (const m of broken) expect(parseServerMessage(JSON.stringify(m)).ok, JSON.stringify(m).slice(0, 80)).toBe(false);
    const r = parseServerMessage(JSON.stringify({ ...valid[1], model: { kind: 'xml', name: 'r', xml: '<mujoco/>', floorGrid: 1 } }));
    expect(r.ok ? null : r.message).toMatch(/model\.floorGrid must be true when given/);
  });
});

describe('encoding helpers', () => {
  it('round-trips bytes and float64 exactly', () => {
    for (let n = 0; n < 10; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 13) & 255);
      expect(bytesToBase64(b)).toBe(Buffer.from(b).toString('base64'));
      expect(Array.from(base64ToBytes(bytesToBase64(b)))).toEqual(Array.from(b));
    }
    const x = Float64Array.from([0, -0, 1 / 3, Math.PI, -1e-300, 1e300, Number.MAX_VALUE]);
    expect(Array.from(base64ToFloat64(float64ToBase64(x)))).toEqual(Array.from(x));
    expect(() => base64ToBytes('ab$=')).toThrow(RangeError);
  });

  it('maps choices to P(first) given the side the first clip was on', () => {
    expect(probFirstOf('left', 'a')).toBe(1);
    expect(probFirstOf('left', 'b')).toBe(0);
    expect(probFirstOf('right', 'a')).toBe(0);
    expect(probFirstOf('right', 'b')).toBe(1);
    expect(probFirstOf('equal', 'b')).toBe(0.5);
    expect(probFirstOf('cant_tell', 'a')).toBeNull();
  });

  it('puts the first clip on the left about half the time, the same way every time', () => {
    let left = 0;
    for (let i = 0; i < 400; i++) if (leftSideFor(`p-${i}`, 'human:ada') === 'a') left++;
    expect(left).toBeGreaterThan(160);
    expect(left).toBeLessThan(240);
    expect(leftSideFor('p-7', 'human:ada')).toBe(leftSideFor('p-7', 'human:ada'));
  });
});

describe('answerLabel: the label an answer becomes (the server stores it; a page saves undeliverable ones in the same form)', () => {
  const msg = { type: 'answer' as const, labelId: 'L9', pairId: 'p4', name: 'ana', choice: 'right' as const, responseMs: 750 };
  it('maps the clip chosen on screen to P(first segment better) through the layout shown', () => {
    // Right chosen, segment a on the left: the second segment (b) is better.
    expect(answerLabel(msg, 'a')).toEqual({ id: 'L9', pairId: 'p4', teacher: 'human:ana', responseMs: 750, raw: '{"choice":"right","leftIs":"a","via":"viewer"}', kind: 'preference', probFirst: 0 });
    // The same press with segment b on the left: the first segment (a, on the right) is better.
    expect(answerLabel(msg, 'b')).toMatchObject({ kind: 'preference', probFirst: 1 });
    expect(answerLabel({ ...msg, choice: 'equal' }, 'b')).toMatchObject({ kind: 'preference', probFirst: 0.5 });
  });
  it("stores can't tell as a skip, keeps a comment, and carries a given time only", () => {
    const skip = answerLabel({ ...msg, choice: 'cant_tell', comment: 'both fell' }, 'a', '2026-12-07T02:00:00.000Z');
    expect(skip).toEqual({
      id: 'L9',
      pairId: 'p4',
      teacher: 'human:ana',
      responseMs: 750,
      comment: 'both fell',
      raw: '{"choice":"cant_tell","leftIs":"a","via":"viewer"}',
      createdAt: '2026-12-07T02:00:00.000Z',
      kind: 'skip',
      reason: "can't tell (viewer)",
    });
    expect('createdAt' in answerLabel(msg, 'a')).toBe(false);
  });
});
