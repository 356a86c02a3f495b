// Device Authorization Grant (RFC 8628) scenarios, shared by Clavis and oidc-provider:
// - device_authorization: requests/s of the device authorization endpoint (each creates a pending code);
// - pending_poll: requests/s of token-endpoint polls of pending codes, each code polled no sooner than
//   its interval (the expected answer is 400 `authorization_pending`; `slow_down` is counted apart);
// - outstanding (Clavis only): p99 of pending polls made at the interval with 100 and with 10,000
//   outstanding codes.
import { cannon, measurePaced, target, verify } from './load.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const DEVICE_SCENARIOS = ['device_authorization', 'pending_poll'];
export const OUTSTANDING = 'outstanding';

const FORM = 'application/x-www-form-urlencoded';
/** RFC 8628 §3.2: the interval a client uses when the response carries none. */
const DEFAULT_INTERVAL = 5;
/** Codes this close to their expiry are not polled any more (they would answer expired_token). */
const EXPIRY_SLACK_S = 30;
/** pending_poll: codes per (poll/s × interval), so a code comes round again after ≥ 1.3 intervals. */
const POLL_MARGIN = 1.3;
/** pending_poll: at most this many codes, and at most this long creating them (per top-up). */
const MAX_POOL = 300_000;
const MAX_CREATE_SECONDS = 60;
/** outstanding: the two populations, polled evenly paced so that a code comes round every interval × this. */
const OUTSTANDING_SMALL = 100;
const OUTSTANDING_LARGE = 10_000;
const PACE_MARGIN = 1.1;

/**
 * Device codes in the order they are polled (a ring). Remembers when each code was last sent so that a
 * poll sooner than the interval is counted (`early`); codes that got `slow_down` (their interval grew)
 * or are near expiry are retired and skipped.
 */
export class DeviceCodePool {
  constructor() {
    this.codes = [];
    this.createdAt = [];
    this.sentAt = [];
    this.retired = [];
    this.cursor = 0;
    this.interval = DEFAULT_INTERVAL;
    this.expiresIn = 600;
    this.resetCounters();
  }

  resetCounters() {
    this.early = 0;
    this.retiredSlowDown = 0;
    this.retiredExpiring = 0;
  }

  get size() {
    return this.codes.length;
  }

  add(code) {
    this.codes.push(code);
    this.createdAt.push(performance.now());
    this.sentAt.push(0);
    this.retired.push(false);
  }

  /** Takes the next code of the ring (the one sent longest ago) and returns its index. */
  next() {
    const n = this.codes.length;
    if (n === 0) throw new Error('device code pool is empty');
    const now = performance.now();
    const maxAge = (this.expiresIn - EXPIRY_SLACK_S) * 1000;
    let i = this.cursor;
    for (let tries = 0; tries < n; tries++) {
      i = this.cursor;
      this.cursor = (i + 1) % this.codes.length;
      if (this.retired[i]) continue;
      if (now - this.createdAt[i] > maxAge) {
        this.retired[i] = true;
        this.retiredExpiring++;
        continue;
      }
      break;
    }
    if (this.sentAt[i] > 0 && now - this.sentAt[i] < this.interval * 1000) this.early++;
    this.sentAt[i] = now;
    return i;
  }

  retire(i) {
    if (i === undefined || this.retired[i]) return;
    this.retired[i] = true;
    this.retiredSlowDown++;
  }

  /** Codes that can still be polled. */
  live() {
    const maxAge = (this.expiresIn - EXPIRY_SLACK_S) * 1000;
    const now = performance.now();
    let live = 0;
    for (let i = 0; i < this.codes.length; i++) {
      if (!this.retired[i] && now - this.createdAt[i] <= maxAge) live++;
    }
    return live;
  }
}

/** Cheap extraction of `"device_code":"..."` from a response body, without JSON.parse. */
function extractDeviceCode(body) {
  const k = body.indexOf('"device_code"');
  if (k < 0) return null;
  const start = body.indexOf('"', body.indexOf(':', k) + 1) + 1;
  const end = body.indexOf('"', start);
  return start > 0 && end > start ? body.slice(start, end) : null;
}

/** The error code of a token-endpoint answer, or a label for anything else. */
function classifyPoll(status, body) {
  if (status === 200) return 'token issued';
  const m = /"error"\s*:\s*"([^"]*)"/.exec(body);
  return m ? m[1] : `HTTP ${status}`;
}

function checkDeviceAuthorization(json) {
  for (const k of ['device_code', 'user_code', 'verification_uri']) {
    if (typeof json[k] !== 'string' || json[k].length === 0) return `no ${k}`;
  }
  if (!Number.isFinite(json.expires_in)) return 'no expires_in';
  return true;
}

const checkPending = (json) =>
  json.error === 'authorization_pending' ? true : `error is ${JSON.stringify(json.error)}`;

const fmt = (n) => Math.round(n).toLocaleString('en-US');

/**
 * dev: { name, deviceAuthorizationEndpoint, tokenEndpoint, clientId(): Promise<string>, params }.
 * Keeps one pool per target: device_authorization fills it with the codes it creates, pending_poll
 * polls them (creating more first if needed).
 */
export function deviceScenarios(dev, opts, { outstanding = false } = {}) {
  const pool = new DeviceCodePool();
  const log = (s) => process.stdout.write(`    ${s}\n`);

  async function authRequest() {
    if (!dev.deviceAuthorizationEndpoint) throw new Error('discovery has no device_authorization_endpoint');
    const clientId = await dev.clientId();
    return {
      method: 'POST',
      url: dev.deviceAuthorizationEndpoint,
      headers: { 'content-type': FORM },
      body: new URLSearchParams({ client_id: clientId, ...dev.params }).toString(),
    };
  }

  /** Learns interval and expires_in from a device authorization response. */
  function learn(p, json) {
    p.interval = Number.isFinite(json.interval) && json.interval > 0 ? json.interval : DEFAULT_INTERVAL;
    if (Number.isFinite(json.expires_in)) p.expiresIn = json.expires_in;
  }

  /** Creates `count` device codes with autocannon (50 connections) and adds them to `p`. */
  async function createCodes(p, count) {
    if (count <= 0) return;
    const req = await authRequest();
    if (p.size === 0) {
      const v = await verify(req, checkDeviceAuthorization);
      if (!v.ok) throw new Error(`device authorization: ${v.detail}`);
      learn(p, v.sample);
      p.add(v.sample.device_code);
      if (--count <= 0) return;
    }
    const { base, path } = target(req.url);
    const before = p.size;
    let failed = 0;
    let firstFailure = null;
    const started = performance.now();
    await cannon({
      url: base,
      connections: Math.max(1, Math.min(opts.connections, count)),
      amount: count,
      pipelining: 1,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path,
          headers: req.headers,
          body: req.body,
          onResponse: (status, body) => {
            const code = status === 200 ? extractDeviceCode(body) : null;
            if (code) p.add(code);
            else {
              failed++;
              firstFailure ??= `HTTP ${status}: ${body.slice(0, 200)}`;
            }
          },
        },
      ],
    });
    const added = p.size - before;
    const secs = (performance.now() - started) / 1000;
    log(`created ${fmt(added)} device codes in ${secs.toFixed(1)} s (${fmt(added / secs)}/s)`);
    if (added < count * 0.98) {
      throw new Error(
        `only ${added} of ${count} device codes created (${failed} failed; first: ${firstFailure})`,
      );
    }
    return added / secs;
  }

  /** A poll request whose every send takes the next code of `p`. */
  function pollRequest(p, clientId) {
    const prefix = `grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=${encodeURIComponent(clientId)}&device_code=`;
    return {
      method: 'POST',
      url: dev.tokenEndpoint,
      headers: { 'content-type': FORM },
      expectStatus: 400,
      makeBody: () => prefix + encodeURIComponent(p.codes[p.next()]),
      setupRequest: (r, context) => {
        const i = p.next();
        context.i = i;
        return { ...r, body: prefix + encodeURIComponent(p.codes[i]) };
      },
      classify: classifyPoll,
      expect: 'authorization_pending',
      onResponse: (status, body, context) => {
        // A code answered slow_down now has a longer interval: stop polling it.
        if (status === 400 && body.includes('"slow_down"')) p.retire(context.i);
      },
    };
  }

  const estimate = (scenario) => opts.estimateRps?.(dev.name, scenario);
  /** Codes needed to poll at `rate` and come back to a code only after POLL_MARGIN intervals. */
  const needed = (rate) => Math.ceil(rate * pool.interval * POLL_MARGIN) + 2 * opts.connections;

  /** Tops the pool up to `want` live codes, within MAX_POOL and MAX_CREATE_SECONDS. */
  async function topUp(want, createRate) {
    const live = pool.live();
    if (live >= want) return;
    const byTime = Math.floor((createRate ?? 2000) * MAX_CREATE_SECONDS);
    const count = Math.min(want - live, MAX_POOL - pool.size, byTime);
    if (count > 0) await createCodes(pool, count);
  }

  const scenarios = [];

  if (outstanding) {
    scenarios.push({
      name: OUTSTANDING,
      label: `pending polls at the interval, ${OUTSTANDING_SMALL} vs ${fmt(OUTSTANDING_LARGE)} outstanding codes (p99)`,
      // A run of its own (several measurements); must run before the other device scenarios so that
      // the store holds only its codes.
      async run() {
        const p = new DeviceCodePool();
        const clientId = await dev.clientId();
        const already = pool.size;
        await createCodes(p, OUTSTANDING_SMALL);
        const req = pollRequest(p, clientId);
        const v = await verify(req, checkPending);
        if (!v.ok) return { status: 'failed', detail: `check: ${v.detail}` };
        const every = p.interval * PACE_MARGIN;
        const slow = Math.floor(OUTSTANDING_SMALL / every);
        const fast = Math.floor(OUTSTANDING_LARGE / every);
        const slowRun = {
          rate: slow,
          connections: opts.connections,
          duration: Math.max(2 * opts.duration, 10),
          warmup: opts.warmup,
        };
        const phases = [];
        const phase = async (name, polled, run) => {
          p.resetCounters();
          const m = await measurePaced({ ...req, afterWarmup: async () => p.resetCounters() }, run);
          const r = {
            name,
            outstanding: p.size + already,
            polledCodes: polled,
            ...m,
            slowDown: m.answers?.slow_down ?? 0,
            early: p.early,
          };
          log(
            `${name}: ${m.rps.toFixed(1)} req/s (target ${run.rate}), p50 ${m.latencyP50Exact} ms, p99 ${m.latencyP99Exact} ms, ${m.samples} samples, unexpected ${m.unexpected}, slow_down ${r.slowDown}, unanswered ${m.timeouts}`,
          );
          phases.push(r);
          return r;
        };
        const small = await phase(`${OUTSTANDING_SMALL} outstanding`, OUTSTANDING_SMALL, slowRun);
        await createCodes(p, OUTSTANDING_LARGE - p.size);
        // Same rate, so only the number of outstanding codes differs; the ring now spans all 10,000.
        const largeSame = await phase(
          `${fmt(OUTSTANDING_LARGE)} outstanding, same rate`,
          OUTSTANDING_LARGE,
          slowRun,
        );
        // Every one of the 10,000 polling at its interval.
        const largeAll = await phase(
          `${fmt(OUTSTANDING_LARGE)} outstanding, all at interval`,
          OUTSTANDING_LARGE,
          {
            rate: fast,
            connections: opts.connections,
            duration: opts.duration,
            warmup: opts.warmup,
          },
        );
        const ratio = (a, b) => (a && b ? a / b : null);
        return {
          status: 'ok',
          describe: `interval ${p.interval} s; evenly paced, each code polled every ${every.toFixed(1)} s`,
          phases,
          p99Small: small.latencyP99Exact,
          p99LargeSameRate: largeSame.latencyP99Exact,
          p99LargeAll: largeAll.latencyP99Exact,
          p99RatioSameRate: ratio(largeSame.latencyP99Exact, small.latencyP99Exact),
          p99RatioAll: ratio(largeAll.latencyP99Exact, small.latencyP99Exact),
          notes: already > 0 ? [`${already} other device codes were already outstanding`] : [],
        };
      },
    });
  }

  scenarios.push(
    {
      name: 'device_authorization',
      label: 'device authorization request (public client, scope=read); each creates a pending code',
      async prepare() {
        const req = await authRequest();
        return {
          ...req,
          // Keep the codes: pending_poll polls them.
          onResponse: (status, body) => {
            if (status !== 200) return;
            const code = extractDeviceCode(body);
            if (code) pool.add(code);
          },
        };
      },
      check(json) {
        const verdict = checkDeviceAuthorization(json);
        if (verdict === true) {
          learn(pool, json);
          pool.add(json.device_code);
        }
        return verdict;
      },
      describe: (s) => `interval ${s.interval ?? `none (${DEFAULT_INTERVAL})`}, expires_in ${s.expires_in}`,
    },
    {
      name: 'pending_poll',
      label: 'token endpoint poll of a pending device code, each code at most once per interval',
      state: null,
      async prepare() {
        const clientId = await dev.clientId();
        const createRate = estimate('device_authorization');
        // Before the warm-up: enough codes for the rate we expect (a poll costs about what a device
        // authorization or a cc_basic request costs); the warm-up then measures the real rate.
        const guess =
          Math.max(estimate('pending_poll') ?? 0, estimate('cc_basic') ?? 0, 1.2 * (createRate ?? 0)) || 3000;
        if (pool.size === 0) await createCodes(pool, 1);
        await topUp(Math.max(2000, needed(guess)), createRate);
        const state = { capped: null, guess, warmupRps: null, createRate };
        this.state = state;
        const req = pollRequest(pool, clientId);
        return {
          ...req,
          async afterWarmup(warm) {
            // The warm-up measured the real rate: make sure the measured run has enough codes.
            state.warmupRps = warm?.rps ?? null;
            const rate = 1.2 * (warm?.rps ?? guess);
            await topUp(needed(rate), createRate);
            const live = pool.live();
            pool.resetCounters();
            if (live < needed(rate)) {
              // Not enough codes to run free: cap the rate so that no code is polled early.
              state.capped = Math.floor((live - 2 * opts.connections) / (pool.interval * POLL_MARGIN));
              return { overallRate: Math.max(1, state.capped) };
            }
            return null;
          },
        };
      },
      check: checkPending,
      after(m) {
        const notes = [`${fmt(pool.size)} codes polled round-robin, interval ${pool.interval} s`];
        const a = m?.answers ?? {};
        notes.push(
          `answers: ${Object.entries(a)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}; slow_down ${a.slow_down ?? 0}`,
        );
        if (pool.early > 0) notes.push(`${pool.early} polls sooner than the interval (too few codes)`);
        if (this.state?.capped) {
          notes.push(
            `rate capped at ${this.state.capped} req/s: not enough codes to poll each at most once per interval; not a throughput figure`,
          );
        }
        return notes.join('; ');
      },
      extra(m) {
        return {
          slowDown: m?.answers?.slow_down ?? 0,
          early: pool.early,
          codes: pool.size,
          interval: pool.interval,
          capped: this.state?.capped ?? null,
        };
      },
    },
  );
  return scenarios;
}
