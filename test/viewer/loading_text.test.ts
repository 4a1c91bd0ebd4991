/** What the labelling page says while MuJoCo's WebAssembly downloads (viewer/client/loading.ts). */
import { describe, expect, it } from 'vitest';
import { engineLoadingText, sizesOf } from '../../viewer/client/loading.js';

const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name] ?? null });

describe('engine loading text', () => {
  it('says what loads and that it is a one-off download; then the share of the decoded size and the size on the wire', () => {
    expect(engineLoadingText(null)).toBe('Loading the physics engine (MuJoCo): a one-off download: the browser keeps it for next time…');
    // 9,139,270 bytes decoded, 2,320,080 gzipped; half received.
    expect(engineLoadingText({ loaded: 4_569_635, total: 9_139_270, download: 2_320_080 })).toBe(
      'Loading the physics engine (MuJoCo): 50%, a one-off 2.3 MB download: the browser keeps it for next time…',
    );
    // Rounded down: 99.99% is not yet 100%.
    expect(engineLoadingText({ loaded: 9_138_270, total: 9_139_270, download: 2_320_080 })).toMatch(/: 99%, /);
    expect(engineLoadingText({ loaded: 0, total: 9_139_270, download: null })).toBe(
      'Loading the physics engine (MuJoCo): 0%, a one-off 9.1 MB download: the browser keeps it for next time…',
    );
    expect(engineLoadingText({ loaded: 9_139_270, total: 9_139_270, download: 2_320_080 })).toBe('Loading the physics engine (MuJoCo): downloaded, starting it…');
    // No size known (a gzipped file from a server that does not give its decoded size): megabytes so far.
    expect(engineLoadingText({ loaded: 1_250_000, total: null, download: 2_320_080 })).toBe(
      'Loading the physics engine (MuJoCo): 1.3 MB so far, a one-off 2.3 MB download: the browser keeps it for next time…',
    );
    expect(engineLoadingText({ loaded: 1_250_000, total: null, download: null })).toBe(
      'Loading the physics engine (MuJoCo): 1.3 MB so far, a one-off download: the browser keeps it for next time…',
    );
  });

  it('reads the sizes from the headers: the decoded size of a gzipped file only from X-Uncompressed-Length', () => {
    expect(sizesOf(headers({ 'Content-Length': '9139270' }))).toEqual({ total: 9_139_270, download: 9_139_270 });
    expect(sizesOf(headers({ 'Content-Length': '2320080', 'Content-Encoding': 'gzip', 'X-Uncompressed-Length': '9139270' }))).toEqual({ total: 9_139_270, download: 2_320_080 });
    expect(sizesOf(headers({ 'Content-Length': '2320080', 'Content-Encoding': 'gzip' }))).toEqual({ total: null, download: 2_320_080 });
    expect(sizesOf(headers({}))).toEqual({ total: null, download: null });
    expect(sizesOf(headers({ 'Content-Length': 'lots', 'X-Uncompressed-Length': '-5' }))).toEqual({ total: null, download: null });
  });
});
