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
 * Parsing (`parseVlmLabel`): reasoning blocks (<think>...</think>) are dropped, then a code
 * fence, surrounding whitespace, quotes, backticks, asterisks and underscores (markdown), and
 * trailing full stops are stripped, and Unicode dashes become "-". What is left must be exactly
 * "0", "1" or "-1"; anything else ("maybe", "2", "Image 0", "0 or 1", "") is unparseable.
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

/** The label in a stage-2 reply (rules in the header). */
export function parseVlmLabel(text: string): ParsedLabel {
  let s = stripThinking(text).trim();
  const fence = /^```[A-Za-z0-9_-]*[ \t]*\n?([\s\S]*?)\n?\s*```$/.exec(s);
  if (fence) s = fence[1];
  s = s.replace(/[\u2010-\u2015\u2212]/g, '-');
  s = s.replace(/^[\s`*_"'\u2018\u2019\u201c\u201d]+/, '').replace(/[\s`*_"'\u2018\u2019\u201c\u201d.]+$/, '');
  if (s === '0') return { ok: true, value: 0 };
  if (s === '1') return { ok: true, value: 1 };
  if (s === '-1') return { ok: true, value: -1 };
  if (s === '') return { ok: false, reason: 'the label reply is empty' };
  const shown = s.length > 80 ? `${s.slice(0, 77)}...` : s;
  return { ok: false, reason: `the label reply is not exactly 0, 1 or -1: ${JSON.stringify(shown)}` };
}
