/**
 * The RL-VLM-F two-stage query (Wang et al. 2024, "RL-VLM-F: Reinforcement Learning from Vision
 * Language Foundation Model Feedback"): stage 1 shows both images and the goal and asks for an
 * analysis; stage 2 continues the same conversation (images, analysis) and asks for one label:
 * "0" (Image 0, the first, is better), "1" (Image 1, the second) or "-1" (unsure / no
 * difference). The prompts are written here from that description, not copied.
 *
 * The images are named "Image 0" and "Image 1" so that the answer digit is the image's name
 * (RL-VLM-F says "Image 1" / "Image 2" and answers 0 / 1, an easy off-by-one for a model).
 *
 * Parsing (`parseVlmLabel`), a strict rule: a reply is read as a label only when it states one
 * label and nothing else; an ambiguous reply is a skip with the reason, never a guess.
 *   1. Dropped: reasoning blocks (<think>...</think>; a lone closing tag ends one), a code fence
 *      around the reply, markdown emphasis and quotes anywhere (* _ ` " ' and curly quotes),
 *      trailing full stops and exclamation marks; Unicode dashes become "-", runs of whitespace
 *      one space.
 *   2. Accepted, what is left being exactly:
 *      - the label: "0", "1" or "-1", also in brackets ("[1]", "(1)") or LaTeX's \boxed{1};
 *      - the image's name, "Image 0" or "Image 1" (the prompt names the images so that the
 *        digit is the label);
 *      - either of these after one lead-in naming it: "Answer:", "Final answer:", "Label:",
 *        "Output:", "Choice:", "Verdict:" (any case; ":", "=", "is" or a space; an optional "The"), so
 *        "**Answer:** 1", "The answer is -1", "Answer: Image 0".
 *   3. Anything else is unparseable: "", "maybe", "2", "Image 2", "0 or 1", "10", "-0", and a
 *      label with more after it ("1 because ...", "-1 (unsure)", "1. Image 0 is better": the last
 *      reads as a numbered list as easily as a label), whatever that text says.
 */
import type { ChatMessage, ContentPart } from './cache.js';
import type { FrameMode } from './render.js';

export const SYSTEM_PROMPT =
  'You judge how well a simulated robot achieved a task, using only rendered images of the simulation. Base every statement on what is visible in the images.';

/** The sentence that says what each image is. */
export function framesNote(mode: FrameMode, hideRobot: boolean): string {
  let s: string;
  if (mode.kind === 'final' || mode.frames === 1) {
    s = 'Image 0 and Image 1 each show the final state of a different attempt at this task, rendered from the same simulation.';
  } else {
    const rows = mode.columns !== undefined && mode.columns < mode.frames;
    s = `Image 0 and Image 1 each show a different attempt at this task as a strip of ${mode.frames} frames in time order (left to right${rows ? ', then top to bottom' : ''}); the last frame is the final state.`;
  }
  if (hideRobot) s += " The robot's body is not drawn; only the scene and the objects in it are shown.";
  return s;
}

/** Stage 1 text after the images. */
export const ANALYSIS_QUESTIONS = [
  'Analyse the two images against the goal:',
  '1. What does Image 0 show that matters for the goal?',
  '2. What does Image 1 show that matters for the goal?',
  '3. Is there a difference between Image 0 and Image 1 in how well the goal is achieved? If there is, which image achieves it better, and why? If you cannot tell, say so.',
  'Ignore the camera framing, lighting and background. Reply with the analysis only.',
].join('\n');

/** Stage 2 question (sent after the model's analysis). */
export function labelQuestion(goal: string): string {
  return [
    `Based on your analysis, which image achieves the goal better? The goal: ${goal}`,
    'Reply with exactly one of these, and nothing else:',
    '0 if Image 0 achieves the goal better',
    '1 if Image 1 achieves the goal better',
    '-1 if you are unsure or there is no difference',
  ].join('\n');
}

export interface QueryImages {
  /** data: URLs of the first and second image. */
  readonly first: string;
  readonly second: string;
  /** OpenAI's `detail` of image parts; omitted when undefined (not every server knows it). */
  readonly detail?: 'auto' | 'low' | 'high';
}

function image(url: string, detail: QueryImages['detail']): ContentPart {
  return { type: 'image_url', image_url: detail === undefined ? { url } : { url, detail } };
}

/** Stage 1: system prompt, then goal, what the images are, Image 0, Image 1, the questions. */
export function analysisMessages(goal: string, note: string, img: QueryImages): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    {
      role: 'user',
      content: [
        { type: 'text', text: `Task goal: ${goal}\n\n${note}` },
        { type: 'text', text: 'Image 0:' },
        image(img.first, img.detail),
        { type: 'text', text: 'Image 1:' },
        image(img.second, img.detail),
        { type: 'text', text: ANALYSIS_QUESTIONS },
      ],
    },
  ];
}

/** Stage 2: the stage-1 conversation, the analysis as the assistant's turn, the label question. */
export function labelMessages(stage1: readonly ChatMessage[], analysis: string, goal: string): ChatMessage[] {
  return [...stage1, { role: 'assistant', content: analysis }, { role: 'user', content: labelQuestion(goal) }];
}

/** Drop reasoning blocks some models emit (<think>...</think>; a lone closing tag ends one). */
export function stripThinking(text: string): string {
  let s = text.replace(/<think>[\s\S]*?<\/think>/gi, '');
  const close = s.toLowerCase().lastIndexOf('</think>');
  if (close >= 0) s = s.slice(close + '</think>'.length);
  return s;
}

export type ParsedLabel = { readonly ok: true; readonly value: 0 | 1 | -1 } | { readonly ok: false; readonly reason: string };

const LABEL_VALUES: Readonly<Record<string, 0 | 1 | -1>> = { '0': 0, '1': 1, '-1': -1 };

/** One lead-in that names the label ("Answer:", "The final answer is"). */
const LEAD_IN = /^(?:the\s+)?(?:final\s+)?(?:answer|label|output|choice|verdict)\b(?:\s+is)?\s*[:=]?\s*/i;

/** The label that `s` (cleaned, no lead-in) states alone: a bare label, in brackets or \boxed{}, or an image's name; else null. */
function bareLabel(s: string): 0 | 1 | -1 | null {
  const inner = /^\[\s*(.*?)\s*\]$/.exec(s) ?? /^\(\s*(.*?)\s*\)$/.exec(s) ?? /^\$*\\boxed\{\s*(.*?)\s*\}\$*$/.exec(s);
  const core = inner ? inner[1] : s;
  if (core in LABEL_VALUES) return LABEL_VALUES[core];
  const image = /^image\s*([01])$/i.exec(core);
  return image ? LABEL_VALUES[image[1]] : null;
}

/** The label in a stage-2 reply (rules in the header). */
export function parseVlmLabel(text: string): ParsedLabel {
  let s = stripThinking(text).trim();
  const fence = /^```[A-Za-z0-9_-]*[ \t]*\n?([\s\S]*?)\n?\s*```$/.exec(s);
  if (fence) s = fence[1];
  s = s
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[`*_"'\u2018\u2019\u201c\u201d]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.!\s]+$/, '');
  if (s === '') return { ok: false, reason: 'the label reply is empty' };
  const value = bareLabel(s) ?? bareLabel(s.replace(LEAD_IN, ''));
  if (value !== null) return { ok: true, value };
  const shown = s.length > 80 ? `${s.slice(0, 77)}...` : s;
  const base = `the label reply is not exactly 0, 1 or -1: ${JSON.stringify(shown)}`;
  const rest = s.replace(LEAD_IN, '');
  const image = /^image\s*(-?\d+)\b/i.exec(rest);
  if (image && !(image[1] === '0' || image[1] === '1')) return { ok: false, reason: `${base}; there is no Image ${image[1]}, the images are Image 0 and Image 1` };
  if (/^(?:-1|0|1)(?![0-9])\S*\s*\S/.test(rest)) return { ok: false, reason: `${base}; a label counts only with nothing after it` };
  return { ok: false, reason: base };
}
