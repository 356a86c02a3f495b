// Command-line flags for bench/run.js.
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run bench -- [options]

  --duration S      seconds per measured scenario (default 10)
  --warmup S        seconds of unmeasured warm-up per scenario (default 2)
  --connections N   concurrent connections (default 50)
  --quick           3 s scenarios, 1 s warm-up
  --only LIST       comma-separated targets or scenarios, e.g.
                    "bare,oidc-provider" or "clavis-sqlite.cc_basic" or "introspect"
                    or "device_authorization,pending_poll,outstanding" (device flow)
  --json PATH       where to write results (default bench/results/latest.json)
  -h, --help        this text
`;

export function parseCli(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (name, v, fallback) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  const duration = num('duration', values.duration, values.quick ? 3 : 10);
  const warmup = values.warmup === '0' ? 0 : num('warmup', values.warmup, values.quick ? 1 : 2);
  const connections = Math.round(num('connections', values.connections, 50));
  const only = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : null;
  return { duration, warmup, connections, only, quick: values.quick, jsonPath: values.json ?? null };
}

/**
 * Whether a scenario (target "clavis-sqlite", scenario "cc_basic") is selected by --only.
 * An entry matches the target, the scenario, or "target.scenario".
 */
export function selected(only, target, scenario) {
  if (!only) return true;
  return only.some((o) => o === target || o === scenario || o === `${target}.${scenario}`);
}

/** Whether any scenario of a target is selected (so the target needs starting). */
export function targetSelected(only, target, scenarios) {
  return scenarios.some((s) => selected(only, target, s));
}
