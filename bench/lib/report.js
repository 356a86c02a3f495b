// Tables and ratios for the console, and the shape of results/latest.json.

const fmtNum = (n, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-';

function table(rows, columns) {
  const widths = columns.map((c) =>
    Math.max(c.title.length, ...rows.map((r) => String(r[c.key] ?? '').length)),
  );
  const line = (cells) =>
    cells
      .map((cell, i) =>
        columns[i].right ? String(cell).padStart(widths[i]) : String(cell).padEnd(widths[i]),
      )
      .join('  ');
  return [
    line(columns.map((c) => c.title)),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => r[c.key] ?? ''))),
  ].join('\n');
}

const COLUMNS = [
  { key: 'scenario', title: 'scenario' },
  { key: 'rps', title: 'req/s', right: true },
  { key: 'p50', title: 'p50 ms', right: true },
  { key: 'p99', title: 'p99 ms', right: true },
  { key: 'unexpected', title: 'unexpected', right: true },
  { key: 'errors', title: 'errors', right: true },
  { key: 'note', title: 'note' },
];

const fmtMs = (n) => (Number.isFinite(n) ? n.toFixed(2) : '-');

export function targetTable(name, target) {
  const head = `== ${name} ==`;
  if (target.status !== 'ran')
    return `${head}\n${target.status}${target.reason ? `:\n${target.reason.replace(/^/gm, '    ')}` : ''}`;
  const rows = Object.entries(target.scenarios).flatMap(([scenario, s]) => {
    if (s.status !== 'ok') return [{ scenario, rps: s.status.toUpperCase(), note: s.detail ?? '' }];
    if (s.phases) {
      // Fixed-rate runs: latencies at 0.01 ms resolution (autocannon's histogram has 1 ms).
      return s.phases.map((p, i) => ({
        scenario: `${scenario}: ${p.name}`,
        rps: fmtNum(p.rps, 1),
        p50: fmtMs(p.latencyP50Exact),
        p99: fmtMs(p.latencyP99Exact),
        unexpected: String(p.unexpected),
        errors: String(p.errors + p.timeouts),
        note: [
          i === 0 ? s.describe : null,
          `target ${p.overallRate} req/s, ${p.samples} samples, slow_down ${p.slowDown}`,
          p.early > 0 ? `${p.early} polls sooner than the interval` : null,
          ...(i === 0 ? (s.notes ?? []) : []),
        ]
          .filter(Boolean)
          .join('; '),
      }));
    }
    return [
      {
        scenario,
        rps: fmtNum(s.rps),
        p50: fmtNum(s.latencyP50),
        p99: fmtNum(s.latencyP99),
        unexpected: String(s.unexpected ?? s.non2xx),
        errors: String(s.errors + s.timeouts),
        note: [s.describe, ...(s.notes ?? [])].filter(Boolean).join('; '),
      },
    ];
  });
  const notes = (target.notes ?? []).map((n) => `  * ${n}`).join('\n');
  return `${head}\n${table(rows, COLUMNS)}${notes ? `\n${notes}` : ''}`;
}

/** p99 of pending polls with 100 vs 10,000 outstanding device codes (Clavis targets that ran it). */
export function outstandingTable(targets) {
  const rows = [];
  for (const [name, t] of Object.entries(targets)) {
    const s = t.status === 'ran' ? t.scenarios?.outstanding : null;
    if (!s) continue;
    if (s.status !== 'ok') {
      rows.push({ target: name, small: s.status.toUpperCase(), note: s.detail ?? '' });
      continue;
    }
    const [a, b, c] = s.phases;
    const bad = s.phases.some((p) => p.unexpected > 0 || p.errors > 0);
    const notes = [];
    if (bad) notes.push('! unexpected answers or errors in a run');
    for (const p of s.phases) {
      if (p.rps < 0.95 * p.overallRate)
        notes.push(
          `${p.name}: overloaded, answered ${fmtNum(p.rps)} of ${fmtNum(p.overallRate)} req/s${p.timeouts ? `, ${p.timeouts} abandoned` : ''}`,
        );
    }
    rows.push({
      target: name,
      small: `${fmtMs(s.p99Small)} @ ${fmtNum(a.rps, 0)}/s`,
      same: `${fmtMs(s.p99LargeSameRate)} @ ${fmtNum(b.rps, 0)}/s`,
      ratioSame: s.p99RatioSameRate === null ? 'n/a' : `${s.p99RatioSameRate.toFixed(2)}x`,
      all: `${fmtMs(s.p99LargeAll)} @ ${fmtNum(c.rps, 0)}/s`,
      ratioAll: s.p99RatioAll === null ? 'n/a' : `${s.p99RatioAll.toFixed(2)}x`,
      note: notes.join('; '),
    });
  }
  if (rows.length === 0) return null;
  return `== device codes outstanding: p99 ms of pending polls at the interval (<=1 means no growth) ==\n${table(
    rows,
    [
      { key: 'target', title: 'target' },
      { key: 'small', title: 'p99 @ 100', right: true },
      { key: 'same', title: 'p99 @ 10,000 same rate', right: true },
      { key: 'ratioSame', title: 'ratio', right: true },
      { key: 'all', title: 'p99 @ 10,000 all polling', right: true },
      { key: 'ratioAll', title: 'ratio', right: true },
      { key: 'note', title: 'note' },
    ],
  )}`;
}

/** The ratios DESIGN.md asks for: Clavis vs the peer and vs the machine's limit (req/s over req/s). */
export const RATIO_SPECS = [
  ...['clavis-sqlite', 'clavis-postgres'].flatMap((c) => [
    {
      name: `${c} cc_basic / oidc-provider cc_basic`,
      num: [c, 'cc_basic'],
      den: ['oidc-provider', 'cc_basic'],
    },
    {
      name: `${c} cc_private_key_jwt / oidc-provider cc_private_key_jwt`,
      num: [c, 'cc_private_key_jwt'],
      den: ['oidc-provider', 'cc_private_key_jwt'],
    },
    {
      name: `${c} introspect / oidc-provider introspect`,
      num: [c, 'introspect'],
      den: ['oidc-provider', 'introspect'],
    },
    { name: `${c} jwks / oidc-provider jwks`, num: [c, 'jwks'], den: ['oidc-provider', 'jwks'] },
    {
      name: `${c} device_authorization / oidc-provider device_authorization`,
      num: [c, 'device_authorization'],
      den: ['oidc-provider', 'device_authorization'],
    },
    {
      name: `${c} pending_poll / oidc-provider pending_poll`,
      num: [c, 'pending_poll'],
      den: ['oidc-provider', 'pending_poll'],
    },
    { name: `${c} cc_basic / bare`, num: [c, 'cc_basic'], den: ['bare', 'token'] },
    // API-key verification at >= 0.6 of a bare server doing one SHA-256 and one indexed lookup.
    { name: `${c} key_verify / bare-keys verify`, num: [c, 'key_verify'], den: ['bare-keys', 'verify'] },
    { name: `${c} key_exchange / bare`, num: [c, 'key_exchange'], den: ['bare', 'token'] },
    { name: `${c} key_exchange / ${c} cc_basic`, num: [c, 'key_exchange'], den: [c, 'cc_basic'] },
    // Workload-token exchange beside client credentials (same signature-verify work as pkjwt).
    { name: `${c} fed_exchange / ${c} cc_basic`, num: [c, 'fed_exchange'], den: [c, 'cc_basic'] },
    {
      name: `${c} fed_exchange / ${c} cc_private_key_jwt`,
      num: [c, 'fed_exchange'],
      den: [c, 'cc_private_key_jwt'],
    },
    { name: `${c} cc_private_key_jwt / bare`, num: [c, 'cc_private_key_jwt'], den: ['bare', 'token'] },
  ]),
  // PostgreSQL beside SQLite, and two instances on one PostgreSQL database beside one.
  {
    name: 'clavis-postgres cc_basic / clavis-sqlite cc_basic (>= 0.7)',
    num: ['clavis-postgres', 'cc_basic'],
    den: ['clavis-sqlite', 'cc_basic'],
  },
  {
    name: 'clavis-postgres-x2 cc_basic / clavis-postgres cc_basic (> 1)',
    num: ['clavis-postgres-x2', 'cc_basic'],
    den: ['clavis-postgres', 'cc_basic'],
  },
  // Start-up: `clavis token` with a cached login must take at most 1.5x the time of `node -e 0`
  // (runs/s over runs/s = time over time).
  {
    name: 'cli-token clavis_token time / node -e 0 time (<= 1.5)',
    num: ['cli-token', 'node_e0'],
    den: ['cli-token', 'clavis_token'],
  },
  // Secret scanning, in MB/s: clavis scan at least as fast as secretlint alone on the same tree.
  { name: 'scan clavis_scan / secretlint (>= 1)', num: ['scan', 'clavis_scan'], den: ['scan', 'secretlint'] },
  {
    name: 'scan clavis_scan / grep (share of the limit)',
    num: ['scan', 'clavis_scan'],
    den: ['scan', 'grep'],
  },
  {
    name: 'oidc-provider cc_basic / bare (peer vs limit, for context)',
    num: ['oidc-provider', 'cc_basic'],
    den: ['bare', 'token'],
  },
  {
    name: 'oidc-provider cc_private_key_jwt / bare (for context)',
    num: ['oidc-provider', 'cc_private_key_jwt'],
    den: ['bare', 'token'],
  },
];

export function computeRatios(targets) {
  const get = ([t, s]) => {
    const target = targets[t];
    if (!target) return { missing: `${t}: not run` };
    if (target.status !== 'ran') return { missing: `${t}: ${target.status}` };
    const sc = target.scenarios[s];
    if (!sc) return { missing: `${t}.${s}: not run` };
    if (sc.status !== 'ok') return { missing: `${t}.${s}: ${sc.status}` };
    return {
      value: sc.rps,
      dirty: (sc.unexpected ?? sc.non2xx) > 0 || sc.errors > 0 || sc.timeouts > 0,
      capped: !!sc.capped,
    };
  };
  return RATIO_SPECS.map((spec) => {
    const n = get(spec.num);
    const d = get(spec.den);
    if (n.missing || d.missing || !d.value)
      return { name: spec.name, ratio: null, reason: n.missing ?? d.missing ?? 'zero denominator' };
    return {
      name: spec.name,
      ratio: n.value / d.value,
      numerator: n.value,
      denominator: d.value,
      dirty: n.dirty || d.dirty,
      capped: n.capped || d.capped,
    };
  });
}

export function ratiosTable(ratios, targets) {
  // Rows whose numerator target did not run collapse into one line per target.
  const absent = new Map();
  const shown = ratios.filter((r) => {
    const t = r.name.split(' ')[0];
    const status = targets[t]?.status;
    if (status === 'ran') return true;
    absent.set(t, status ?? 'not selected');
    return false;
  });
  const rows = shown.map((r) => ({
    name: r.name,
    ratio: r.ratio === null ? 'n/a' : `${r.ratio.toFixed(2)}x`,
    detail:
      r.ratio === null
        ? r.reason
        : `${fmtNum(r.numerator)} / ${fmtNum(r.denominator)} req/s${r.dirty ? '  (! unexpected answers or errors during run)' : ''}${r.capped ? '  (! rate capped: too few device codes)' : ''}`,
  }));
  return `== ratios (req/s; >1 means the numerator is faster) ==\n${table(rows, [
    { key: 'name', title: 'ratio' },
    { key: 'ratio', title: 'value', right: true },
    { key: 'detail', title: 'detail' },
  ])}${[...absent].map(([t, status]) => `\n${t}: ${status}, its ratios are n/a`).join('')}`;
}
