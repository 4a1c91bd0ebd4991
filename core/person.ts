/**
 * People as teachers: a person's teacher id is `human:<name>`. Shared by the label store (Node) and
 * the viewer's page (browser), so no Node or DOM imports here.
 */

/** The start of one person's teacher id, `human:<name>` (the viewer's). */
export const PERSON_ID_PREFIX = 'human:';

/** The teacher id of the person with this (normalised) name. */
export function personTeacherId(name: string): string {
  return `${PERSON_ID_PREFIX}${name}`;
}
