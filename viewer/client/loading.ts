/**
 * Loading MuJoCo's WebAssembly (9.1 MB, 2.3 MB gzipped) with progress for the labelling page: the
 * page fetches the file itself, counts the bytes as they arrive and compiles them as they stream
 * in (WebAssembly.instantiateStreaming, as the MuJoCo loader does on its own), and says how far it
 * is. The server names the decoded size of a gzipped file (X-Uncompressed-Length), so the share is
 * right whichever way the file travels.
 */

/** How far the download is. */
export interface LoadProgress {
  /** Bytes received (decoded). */
  readonly loaded: number;
  /** Bytes in all (decoded), when the server says. */
  readonly total: number | null;
  /** Bytes on the wire (the gzipped size when the file comes gzipped), when the server says. */
  readonly download: number | null;
}

function positive(v: string | null): number | null {
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** The sizes a response's headers give. */
export function sizesOf(headers: { get(name: string): string | null }): { total: number | null; download: number | null } {
  const download = positive(headers.get('Content-Length'));
  const encoded = (headers.get('Content-Encoding') ?? 'identity') !== 'identity';
  return { total: positive(headers.get('X-Uncompressed-Length')) ?? (encoded ? null : download), download };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** What the page says while the engine loads. */
export function engineLoadingText(p: LoadProgress | null): string {
  const head = 'Loading the physics engine (MuJoCo)';
  const once = 'a one-off download: the browser keeps it for next time';
  if (p === null) return `${head}: ${once}…`;
  if (p.total !== null && p.loaded >= p.total) return `${head}: downloaded, starting it…`;
  const size = p.download ?? p.total;
  const of = size === null ? once : once.replace('a one-off download', `a one-off ${mb(size)} download`);
  if (p.total === null) return `${head}: ${mb(p.loaded)} so far, ${of}…`;
  return `${head}: ${Math.floor((100 * p.loaded) / p.total)}%, ${of}…`;
}

/**
 * Fetch and instantiate a WebAssembly file, reporting progress as bytes arrive. Falls back to
 * compiling the whole file at once where streaming compilation is missing or fails.
 */
export async function instantiateWithProgress(url: string, imports: WebAssembly.Imports, report: (p: LoadProgress) => void): Promise<WebAssembly.WebAssemblyInstantiatedSource> {
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const { total, download } = sizesOf(res.headers);
  let loaded = 0;
  report({ loaded, total, download });
  let counted: Response = res;
  if (res.body && typeof TransformStream === 'function') {
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        loaded += chunk.byteLength;
        report({ loaded, total, download });
        ctl.enqueue(chunk);
      },
    });
    counted = new Response(res.body.pipeThrough(counter), { headers: { 'Content-Type': 'application/wasm' } });
  }
  if (typeof WebAssembly.instantiateStreaming === 'function') {
    try {
      return await WebAssembly.instantiateStreaming(counted, imports);
    } catch (e) {
      console.warn(`[prefrl viewer] streaming compilation of ${url} failed (${(e as Error).message}); loading it whole`);
      const again = await fetch(url, { credentials: 'same-origin' });
      if (!again.ok) throw new Error(`${url}: HTTP ${again.status}`);
      return WebAssembly.instantiate(await again.arrayBuffer(), imports);
    }
  }
  return WebAssembly.instantiate(await counted.arrayBuffer(), imports);
}
