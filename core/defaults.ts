/**
 * `defaults` with each of its fields that `given` sets taken from `given` instead: a field that
 * `given` leaves out, or sets to undefined or null, keeps its default (`given.x ?? defaults.x`
 * for every field x of `defaults`). Only the fields of `defaults` are read, in its order;
 * `given`'s other fields (collaborators, callbacks) are not copied.
 */
export function withDefaults<D extends object>(given: { readonly [K in keyof D]?: D[K] | null }, defaults: D): D {
  const out = { ...defaults };
  for (const k of Object.keys(defaults) as (keyof D)[]) out[k] = given[k] ?? defaults[k];
  return out;
}
