// npm run bench: Clavis side by side with oidc-provider (the peer) and a bare signing server
// (the machine's limit), on loopback with autocannon. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli, selected, targetSelected } from './lib/args.js';
import { measure, verify } from './lib/load.js';
import { computeRatios, outstandingTable, ratiosTable, targetTable } from './lib/report.js';
import * as bare from './servers/bare.js';
import * as bareKeys from './servers/bare_keys.js';
import * as clavis from './servers/clavis.js';
import * as cliToken from './servers/cli_token.js';
import * as oidcProvider from './servers/oidc_provider.js';
import * as scan from './servers/scan.js';
import * as startup from './servers/startup.js';

const opts = parseCli();
const log = (s = '') => process.stdout.write(`${s}\n`);

/** Targets in run order; only one server process is alive at a time. */
const TARGETS = [
  { name: bare.TARGET, scenarios: bare.SCENARIOS, launch: () => bare.launch(opts) },
  { name: bareKeys.TARGET, scenarios: bareKeys.SCENARIOS, launch: () => bareKeys.launch(opts) },
  {
    name: oidcProvider.TARGET,
    scenarios: oidcProvider.SCENARIOS,
    launch: () => oidcProvider.launch(loadOpts),
  },
  { name: cliToken.TARGET, scenarios: cliToken.SCENARIOS, clavis: true, launch: () => cliToken.launch() },
  { name: scan.TARGET, scenarios: scan.SCENARIOS, clavis: true, launch: () => scan.launch() },
  { name: startup.TARGET, scenarios: startup.SCENARIOS, clavis: true, launch: () => startup.launch() },
  {
    name: 'clavis-sqlite',
    scenarios: clavis.SCENARIOS,
    clavis: true,
    launch: () => clavis.launch('sqlite', loadOpts),
  },
  {
    name: 'clavis-postgres',
    scenarios: clavis.SCENARIOS,
    clavis: true,
    launch: () => clavis.launch('postgres', loadOpts),
  },
  {
    name: 'clavis-postgres-x2',
    scenarios: clavis.PAIR_SCENARIOS,
    clavis: true,
    launch: () => clavis.launchPair(loadOpts),
  },
];

const results = {
  meta: {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpu: cpus()[0]?.model,
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadavgAtStart: loadavg().map((n) => Number(n.toFixed(2))),
    commit: gitCommit(),
    duration: opts.duration,
    warmup: opts.warmup,
    connections: opts.connections,
    only: opts.only,
    loadGenerator: 'autocannon (in the orchestrating process, same machine, loopback)',
  },
  targets: {},
  ratios: [],
};

/** The record of the target running now (results.targets gets it when the target is done). */
const currentRecords = {};

const loadOpts = {
  duration: opts.duration,
  warmup: opts.warmup,
  connections: opts.connections,
  /** req/s measured earlier in this run for target `name`, scenario `scenario` (default cc_basic). */
  estimateRps: (name, scenario = 'cc_basic') => {
    const s = currentRecords[name]?.scenarios?.[scenario] ?? results.targets[name]?.scenarios?.[scenario];
    return s?.status === 'ok' && !s.capped ? s.rps : undefined;
  },
};

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

async function runScenario(targetName, scenario) {
  const out = { label: scenario.label };
  if (scenario.run) {
    // A scenario that makes several measurements of its own (device codes outstanding).
    try {
      return { ...out, ...(await scenario.run()) };
    } catch (err) {
      return { ...out, status: 'error', detail: err.message };
    }
  }
  let req;
  try {
    req = await scenario.prepare();
  } catch (err) {
    return { ...out, status: 'error', detail: `prepare: ${err.message}` };
  }
  const v = await verify(req, scenario.check);
  if (!v.ok) {
    log(`    FAILED check for ${targetName}.${scenario.name}: ${v.detail}`);
    return { ...out, status: 'failed', detail: `check: ${v.detail}` };
  }
  const describe = scenario.describe?.(v.sample) ?? null;
  let m;
  try {
    m = await measure(req, opts);
  } catch (err) {
    return { ...out, status: 'error', detail: `measure: ${err.message}` };
  }
  const notes = [];
  const after = scenario.after?.(m);
  if (after) notes.push(after);
  if (!req.classify && m.non2xx > 0) notes.push(`non-2xx by status: ${JSON.stringify(m.statusCodes)}`);
  return { ...out, status: 'ok', describe, notes, ...m, ...(scenario.extra?.(m) ?? {}) };
}

async function runTarget(def) {
  const wanted = def.scenarios.filter((s) => selected(opts.only, def.name, s));
  if (def.clavis && !clavis.isBuilt()) {
    log(`clavis: not built (${clavis.CLI} missing); skipping ${def.name}`);
    return { status: 'not built', reason: `${clavis.CLI} missing` };
  }
  log(`${def.name}: starting`);
  let target;
  try {
    target = await def.launch();
  } catch (err) {
    const reason = err.message.split('\n').slice(0, 12).join('\n');
    log(`${def.name}: skipped, could not start:\n${reason.replace(/^/gm, '    ')}`);
    return { status: 'skipped', reason };
  }
  const record = { status: 'ran', notes: target.notes, scenarios: {} };
  currentRecords[def.name] = record;
  try {
    for (const scenario of target.scenarios.filter((s) => wanted.includes(s.name))) {
      log(`  ${def.name}.${scenario.name}: ${scenario.label}`);
      record.scenarios[scenario.name] = await runScenario(def.name, scenario);
      const r = record.scenarios[scenario.name];
      if (r.status === 'ok' && r.phases) {
        log(
          `    p99 ${r.p99Small} ms at 100 outstanding, ${r.p99LargeSameRate} ms at 10,000 (same rate), ${r.p99LargeAll} ms at 10,000 all polled at the interval`,
        );
      } else if (r.status === 'ok') {
        const slow = r.slowDown !== undefined ? `, slow_down ${r.slowDown}` : '';
        log(
          `    ${Math.round(r.rps)} req/s, p50 ${r.latencyP50} ms, p99 ${r.latencyP99} ms, unexpected ${r.unexpected}${slow}, errors ${r.errors + r.timeouts}`,
        );
      } else {
        log(`    ${r.status}: ${r.detail}`);
      }
      if (target.proc.exited()) {
        record.notes.push(`server exited during the run:\n${target.proc.logs()}`);
        break;
      }
    }
  } finally {
    await target.proc.stop();
    await target.cleanup?.();
  }
  return record;
}

async function main() {
  log(
    `bench: node ${process.version}, ${results.meta.cpus} x ${results.meta.cpu}, ${opts.duration} s/scenario (+${opts.warmup} s warm-up), ${opts.connections} connections`,
  );
  for (const def of TARGETS) {
    if (!targetSelected(opts.only, def.name, def.scenarios)) continue;
    results.targets[def.name] = await runTarget(def);
  }
  results.ratios = computeRatios(results.targets);

  log('');
  for (const [name, target] of Object.entries(results.targets)) log(`${targetTable(name, target)}\n`);
  log(ratiosTable(results.ratios, results.targets));
  const outstanding = outstandingTable(results.targets);
  if (outstanding) log(`\n${outstanding}`);

  const jsonPath = opts.jsonPath ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
  await mkdir(dirname(jsonPath), { recursive: true });
  await writeFile(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nresults written to ${jsonPath}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
