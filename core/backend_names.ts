/**
 * The tensor backends a command can ask for (`--backend`), apart from core/backend.ts so that a
 * command's flags can name them without loading TensorFlow.js (about half a second at start-up).
 */
export const BACKENDS = ['auto', 'gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];
