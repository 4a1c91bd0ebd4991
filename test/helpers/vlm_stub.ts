/**
 * What the VLM tests share: two-step hand-made segments named s<n>, pairs of them, a renderer that
 * paints each segment's frames one solid grey (its number), and the stub servers' cleanup.
 */
import type { Server } from 'node:http';
import { afterEach } from 'vitest';
import type { Pair, Segment } from '../../reward/types.js';
import { encodePng } from '../../reward/vlm/png.js';
import type { SegmentFrameRenderer, VlmView } from '../../reward/vlm/render.js';
import { handSegment } from './segments.js';

/** Segment `s<n>`: two steps of env "test", every reward, term and success 0. */
export function seg(n: number): Segment {
  return handSegment(`s${n}`, 2, { envId: 'test', rewards: Float64Array.from([0, 0]), terms: Float64Array.from([0, 0]), time: Float64Array.from([0, 0.1, 0.2]), success: Float32Array.from([0, 0]) });
}

/** Pair `p<a>-<b>` of segments s<a> and s<b>. */
export const pair = (a: number, b: number): Pair => ({ id: `p${a}-${b}`, a: seg(a), b: seg(b) });

/** Frames of one solid grey, the segment's number (s3: every byte 3): two segments' images differ. */
export class SolidRenderer implements SegmentFrameRenderer {
  async render(segment: Segment, steps: readonly number[], view: VlmView): Promise<Uint8Array[]> {
    const rgba = new Uint8Array(view.width * view.height * 4).fill(Number(segment.id.slice(1)));
    return steps.map(() => encodePng({ width: view.width, height: view.height, rgba }));
  }
  async close(): Promise<void> {}
}

/** A list for a test file's stub servers: each is closed (its connections cut) after every test. */
export function closedAfterEach(): Server[] {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((res) => s.close(() => res()));
    }
  });
  return servers;
}
