// Load generation with autocannon (programmatic), and the per-scenario check that runs first.
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';

/**
 * Runs autocannon. `onLatency(ms)` (optional) receives every response time as a float, so that
 * percentiles below autocannon's 1 ms histogram resolution can be computed.
 */
export function cannon(opts, { onLatency } = {}) {
  return new Promise((resolve, reject) => {
    const tracker = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    if (onLatency) tracker.on('response', (_client, _status, _bytes, ms) => onLatency(ms));
  });
}

/** Splits a scenario's url into autocannon's base url and request path. */
export function target(url) {
  const u = new URL(url);
  return { base: `${u.protocol}//${u.host}`, path: `${u.pathname}${u.search}` };
}

/**
 * A scenario's request: { method, url, headers, body } or, for a per-request body,
 * { method, url, headers, makeBody: () => string }.
 *
 * Optional, for scenarios whose every request must differ and whose answers are counted:
 * - setupRequest(request, context): autocannon's hook (one context per connection; with
 *   pipelining 1 the context seen by onResponse belongs to the request being answered);
 *   makeBody is then only used by the pre-check;
 * - onResponse(status, body, context): called for every answer;
 * - classify(status, body) -> label, and expect: the label that counts as success (e.g. a 400
 *   `authorization_pending`). Without them, success means 2xx.
 * - expectStatus: the status the pre-check wants (default 200).
 */
function cannonOptions(req, { connections, duration, overallRate, amount }, onAnswer) {
  const { base, path } = target(req.url);
  const opts = {
    url: base,
    connections,
    pipelining: 1,
    timeout: 10,
  };
  if (amount) opts.amount = amount;
  else opts.duration = duration;
  if (overallRate) opts.overallRate = overallRate;
  const request = { method: req.method, path, headers: req.headers ?? {} };
  if (req.setupRequest) {
    request.setupRequest = req.setupRequest;
    request.body = '';
  } else if (req.makeBody) {
    request.setupRequest = (r) => ({ ...r, body: req.makeBody() });
    request.body = req.makeBody();
  } else if (req.body !== undefined) {
    request.body = req.body;
  }
  if (onAnswer || req.onResponse) {
    request.onResponse = (status, body, context) => {
      onAnswer?.(status, body);
      req.onResponse?.(status, body, context);
    };
  }
  return { ...opts, requests: [request] };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

/**
 * Runs warm-up then the measured run. Returns a compact summary.
 *
 * run: { connections, duration, warmup, overallRate? }.
 * req.afterWarmup(warmupSummary | null) may return { overallRate } to change the measured run
 * (it can also do work between the two runs, e.g. create more device codes).
 */
export async function measure(req, run) {
  let { connections, duration, warmup, overallRate } = run;
  let warm = null;
  if (warmup > 0) {
    const w = await cannon(cannonOptions(req, { connections, duration: warmup, overallRate }));
    warm = { rps: w.requests.average, total: w.requests.total };
  }
  if (req.afterWarmup) {
    const change = await req.afterWarmup(warm);
    if (change?.overallRate) overallRate = change.overallRate;
  }
  const answers = {};
  const onAnswer = req.classify
    ? (status, body) => {
        const label = req.classify(status, body);
        answers[label] = (answers[label] ?? 0) + 1;
      }
    : null;
  const latencies = [];
  const r = await cannon(cannonOptions(req, { connections, duration, overallRate }, onAnswer), {
    onLatency: (ms) => latencies.push(ms),
  });
  latencies.sort((a, b) => a - b);
  const status = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) status[code] = Number(count);
  let unexpected = r.non2xx;
  if (req.classify && req.expect) {
    const answered = Object.values(answers).reduce((a, b) => a + b, 0);
    unexpected = answered - (answers[req.expect] ?? 0);
  }
  return {
    rps: r.requests.average,
    rpsStddev: r.requests.stddev,
    total: r.requests.total,
    latencyP50: r.latency.p50,
    latencyP99: r.latency.p99,
    latencyMax: r.latency.max,
    // From every response time (float ms), not autocannon's 1 ms-resolution histogram.
    latencyP50Exact: percentile(latencies, 50),
    latencyP99Exact: percentile(latencies, 99),
    samples: latencies.length,
    non2xx: r.non2xx,
    unexpected,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: status,
    ...(req.classify ? { answers } : {}),
    ...(req.expect ? { expected: req.expect } : {}),
    ...(overallRate ? { overallRate } : {}),
    ...(warm ? { warmupRps: warm.rps } : {}),
    duration: r.duration,
    connections,
  };
}

/**
 * Sends one request with fetch and checks it: status `req.expectStatus` (default 200) and
 * `check(json, res)` returning true or an error string. Returns { ok, detail }.
 */
export async function verify(req, check) {
  let res;
  let text = '';
  const want = req.expectStatus ?? 200;
  try {
    const body = req.makeBody ? req.makeBody() : req.body;
    res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    text = await res.text();
  } catch (err) {
    return { ok: false, detail: `request failed: ${err.cause?.code ?? err.message}` };
  }
  if (res.status !== want) return { ok: false, detail: `HTTP ${res.status}: ${text.slice(0, 300)}` };
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, detail: `not JSON: ${text.slice(0, 300)}` };
  }
  const verdict = check ? check(json, res) : true;
  if (verdict !== true) return { ok: false, detail: `${verdict}; body: ${text.slice(0, 300)}` };
  return { ok: true, detail: null, sample: json };
}

/**
 * Open-loop, evenly paced load for fixed-rate measurements: `rate` requests/s for `duration` s, each
 * sent at its scheduled time whatever the earlier ones are doing (on up to `connections` keep-alive
 * sockets; beyond that requests wait in the agent). Latency runs from the scheduled time to the end of
 * the response, so a server that falls behind shows it (no coordinated omission). autocannon's own
 * rate limit sends each connection's quota as a burst at the start of every second, which would
 * measure the burst rather than the server.
 *
 * Requests still unanswered `graceSeconds` after the last one was due are abandoned and counted in
 * `unanswered`, with the time they had waited as their latency (a lower bound).
 */
async function pacedRun(req, { rate, duration, connections, graceSeconds = 3 }, onAnswer) {
  const u = new URL(req.url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const total = Math.max(1, Math.round(rate * duration));
  const step = 1000 / rate;
  const latencies = [];
  const statusCodes = {};
  const pending = new Set();
  let sent = 0;
  let finished = 0;
  let errors = 0;
  let non2xx = 0;
  let lastAnswerAt = 0;
  const t0 = performance.now() + 10;

  let resolveDone;
  const done = new Promise((r) => {
    resolveDone = r;
  });
  const finish = (r) => {
    if (!pending.delete(r)) return;
    finished++;
    if (finished === total) resolveDone();
  };

  const fire = (scheduled) => {
    const context = {};
    const body = req.setupRequest
      ? req.setupRequest({}, context).body
      : req.makeBody
        ? req.makeBody()
        : (req.body ?? '');
    const r = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: req.method,
        headers: { ...req.headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          data += c;
        });
        res.on('end', () => {
          const now = performance.now();
          lastAnswerAt = now;
          latencies.push(now - scheduled);
          statusCodes[res.statusCode] = (statusCodes[res.statusCode] ?? 0) + 1;
          if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
          onAnswer?.(res.statusCode, data);
          req.onResponse?.(res.statusCode, data, context);
          finish(r);
        });
      },
    );
    r.scheduled = scheduled;
    pending.add(r);
    r.on('error', () => {
      if (!pending.has(r)) return;
      errors++;
      finish(r);
    });
    r.end(body);
  };

  const tick = () => {
    const due = Math.min(total, Math.floor((performance.now() - t0) / step) + 1);
    while (sent < due) fire(t0 + step * sent++);
    if (sent < total) setTimeout(tick, Math.max(0, Math.min(4, t0 + step * sent - performance.now())));
  };
  setTimeout(tick, 10);

  const deadline = t0 + duration * 1000 + graceSeconds * 1000;
  let unanswered = 0;
  await Promise.race([
    done,
    new Promise((r) => {
      const wait = () => {
        if (finished === total) return r();
        if (performance.now() >= deadline && sent === total) return r();
        setTimeout(wait, 50);
      };
      wait();
    }),
  ]);
  const abandonedAt = performance.now();
  for (const r of [...pending]) {
    latencies.push(abandonedAt - r.scheduled);
    unanswered++;
    pending.delete(r);
    r.destroy();
  }
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const answered = total - unanswered - errors;
  const elapsed = ((lastAnswerAt || abandonedAt) - t0) / 1000;
  return {
    rps: answered / Math.max(elapsed, duration),
    total: answered,
    latencies,
    statusCodes,
    non2xx,
    errors,
    unanswered,
    duration: Math.round(elapsed * 100) / 100,
  };
}

/**
 * Warm-up then a measured paced run (see pacedRun). Same summary shape as measure(); the latency
 * fields are all exact (float ms).
 */
export async function measurePaced(req, { rate, duration, warmup, connections }) {
  if (warmup > 0) await pacedRun(req, { rate, duration: warmup, connections });
  if (req.afterWarmup) await req.afterWarmup(null);
  const answers = {};
  const onAnswer = req.classify
    ? (status, body) => {
        const label = req.classify(status, body);
        answers[label] = (answers[label] ?? 0) + 1;
      }
    : null;
  const r = await pacedRun(req, { rate, duration, connections }, onAnswer);
  let unexpected = r.non2xx;
  if (req.classify && req.expect) {
    const answered = Object.values(answers).reduce((a, b) => a + b, 0);
    unexpected = answered - (answers[req.expect] ?? 0);
  }
  const p50 = percentile(r.latencies, 50);
  const p99 = percentile(r.latencies, 99);
  return {
    rps: r.rps,
    total: r.total,
    latencyP50: p50,
    latencyP99: p99,
    latencyMax: r.latencies.length ? Math.round(r.latencies.at(-1) * 100) / 100 : null,
    latencyP50Exact: p50,
    latencyP99Exact: p99,
    samples: r.latencies.length,
    non2xx: r.non2xx,
    unexpected,
    errors: r.errors,
    timeouts: r.unanswered,
    statusCodes: r.statusCodes,
    ...(req.classify ? { answers } : {}),
    ...(req.expect ? { expected: req.expect } : {}),
    overallRate: rate,
    paced: true,
    duration: r.duration,
    connections,
  };
}
