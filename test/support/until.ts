/**
 * Waiting on a condition with a bound, instead of sleeping and hoping: `until` checks `condition` on
 * every event-loop turn (and at least every few milliseconds) and fails once `withinMs` has passed.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  { withinMs, what }: { withinMs: number; what: string },
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - start;
    if (performance.now() - start > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
