// Load generation with autocannon (programmatic), and the per-scenario check that runs first.
import autocannon from 'autocannon';

function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * A scenario's request: { method, url, headers, body } or, for a per-request body,
 * { method, url, headers, makeBody: () => string }.
 */
function cannonOptions(req, { connections, duration }) {
  const u = new URL(req.url);
  const base = {
    url: `${u.protocol}//${u.host}`,
    connections,
    duration,
    pipelining: 1,
    timeout: 10,
  };
  const request = {
    method: req.method,
    path: `${u.pathname}${u.search}`,
    headers: req.headers ?? {},
  };
  if (req.makeBody) {
    request.setupRequest = (r) => ({ ...r, body: req.makeBody() });
    request.body = req.makeBody();
  } else if (req.body !== undefined) {
    request.body = req.body;
  }
  return { ...base, requests: [request] };
}

/** Runs warm-up then the measured run. Returns a compact summary. */
export async function measure(req, { connections, duration, warmup }) {
  if (warmup > 0) await cannon(cannonOptions(req, { connections, duration: warmup }));
  const r = await cannon(cannonOptions(req, { connections, duration }));
  const status = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats ?? {})) status[code] = Number(count);
  return {
    rps: r.requests.average,
    rpsStddev: r.requests.stddev,
    total: r.requests.total,
    latencyP50: r.latency.p50,
    latencyP99: r.latency.p99,
    latencyMax: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: status,
    duration: r.duration,
    connections,
  };
}

/**
 * Sends one request with fetch and checks it: status 200 and `check(json, res)` returning
 * true or an error string. Returns { ok, detail }.
 */
export async function verify(req, check) {
  let res;
  let text = '';
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
  if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}: ${text.slice(0, 300)}` };
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
