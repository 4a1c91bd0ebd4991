/**
 * The reward model's view of the last answered pair (`prefrl serve --insight`): its
 * P(left better) next to the teacher's choice, and per-step predicted reward curves of both
 * clips on one axis.
 */
import type { InsightMsg } from '../protocol.js';

const LEFT = '#5aa9e6';
const RIGHT = '#e36f8f';

/** Draw both reward curves (left blue, right pink) on a shared y range with a zero line. */
export function drawCurves(canvas: HTMLCanvasElement, left: readonly number[], right: readonly number[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const all = [...left, ...right];
  if (all.length === 0) return;
  let lo = Math.min(0, ...all);
  let hi = Math.max(0, ...all);
  if (hi - lo < 1e-9) {
    hi += 1;
    lo -= 1;
  }
  const pad = 6;
  const y = (v: number) => pad + (h - 2 * pad) * (1 - (v - lo) / (hi - lo));
  ctx.strokeStyle = '#3a4452';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, y(0));
  ctx.lineTo(w, y(0));
  ctx.stroke();
  const line = (vals: readonly number[], colour: string) => {
    if (vals.length === 0) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    vals.forEach((v, i) => {
      const x = vals.length === 1 ? w / 2 : (i / (vals.length - 1)) * (w - 2 * pad) + pad;
      if (i === 0) ctx.moveTo(x, y(v));
      else ctx.lineTo(x, y(v));
    });
    ctx.stroke();
  };
  line(left, LEFT);
  line(right, RIGHT);
  ctx.fillStyle = '#94a0b2';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(`${hi.toFixed(2)}`, 4, 12);
  ctx.fillText(`${lo.toFixed(2)}`, 4, h - 4);
}

const CHOICE_TEXT: Record<InsightMsg['choice'], string> = {
  left: 'left is better',
  right: 'right is better',
  equal: 'about equal',
  cant_tell: "can't tell",
};

/** One line summarising model vs teacher. */
export function insightText(m: InsightMsg): string {
  const p = Math.round(m.probLeft * 100);
  const verdict = m.agree === null ? '' : m.agree ? ' — the model agrees' : ' — the model disagrees (logged)';
  return `Model: P(left better) = ${p}%, P(right better) = ${100 - p}%. You said ${CHOICE_TEXT[m.choice]}${verdict}.`;
}
