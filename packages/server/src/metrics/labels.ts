/** Label values from what callers send: bounded, or `other`. Kept apart from metrics.ts (no prom-client). */

/** A reason code as a label: short lower-case words (spaces become `_`), else `other`. */
export function reasonLabel(reason: unknown): string {
  if (typeof reason !== 'string' || !/^[a-z][a-z0-9_ ]{0,39}$/.test(reason)) return 'other';
  return reason.includes(' ') ? reason.replaceAll(' ', '_') : reason;
}
