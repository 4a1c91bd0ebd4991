import { describe, expect, it } from 'vitest';
import { InputError, parseJson } from '../../core/errors.js';

describe('parseJson', () => {
  it('returns the parsed value of valid JSON', () => {
    expect(parseJson('{"a": [1, 2.5, null]}', 'cfg.json')).toEqual({ a: [1, 2.5, null] });
  });

  it('turns a syntax error into an InputError naming the file and field, on one line', () => {
    let err: unknown;
    try {
      parseJson('hi\nthere', 'labels.jsonl', 'line 3');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const e = err as InputError;
    expect(e.source).toBe('labels.jsonl');
    expect(e.field).toBe('line 3');
    expect(e.message.startsWith('labels.jsonl (line 3): invalid JSON: ')).toBe(true);
    expect(e.message).not.toContain('\n');
    expect(e.exitCode).toBe(1);
  });

  it('reports an empty file as invalid JSON too', () => {
    expect(() => parseJson('', 'empty.json')).toThrow(/^empty\.json: invalid JSON: /);
  });
});
