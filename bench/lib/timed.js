// Timing whole processes (the CLI's start, a server's start, a scan): the median of the runs, and the
// scenario result the report reads, built from them.

/** The median of `values` (the upper one of an even count). */
export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * A scenario result from process timings `ms`: p50 is the median run, p99 the slowest, `rps` runs per
 * second of the median unless given; `describe(p50)` says what was measured.
 */
export function timedResult(ms, { describe, rps, digits = 1, extra = {} }) {
  const p50 = median(ms);
  return {
    status: 'ok',
    rps: rps ?? 1000 / p50,
    latencyP50: Number(p50.toFixed(digits)),
    latencyP99: Number(Math.max(...ms).toFixed(digits)),
    unexpected: 0,
    errors: 0,
    timeouts: 0,
    ...extra,
    describe: describe(p50),
    notes: [],
  };
}
