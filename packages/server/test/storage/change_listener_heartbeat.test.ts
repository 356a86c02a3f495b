/**
 * The change listener on a network cut without a reset (no error reaches the connection for minutes):
 * its own heartbeat stops coming back, and it stops vouching for the caches within `staleAfterMs`; once
 * the network delivers again, it vouches again with a moved version (what was read meanwhile may predate
 * a missed change).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbProxy } from '../../../../test/support/db_proxy.js';
import { dialects, PG_BASE_URL } from '../../../../test/support/dialects.js';
import { until } from '../../../../test/support/until.js';
import { PgChangeListener } from '../../src/storage/change_listener.js';

describe.skipIf(!dialects.includes('postgres'))('change listener heartbeat (postgres)', () => {
  let proxy: DbProxy;
  let listener: PgChangeListener;

  beforeAll(async () => {
    proxy = new DbProxy();
    await proxy.open();
    listener = await PgChangeListener.start(
      { connectionString: proxy.via(PG_BASE_URL) },
      { heartbeatMs: 50, staleAfterMs: 300 },
    );
  });

  afterAll(async () => {
    await listener?.close();
    await proxy?.close();
  });

  it('vouches while its heartbeats come back; not once the network is cut; again, moved, once it delivers', async () => {
    expect(listener.listening).toBe(true);
    // On a healthy connection it vouches throughout, well past `staleAfterMs`.
    const before = listener.current();
    expect(before).toBeTypeOf('number');
    const t0 = performance.now();
    let lapsed = false;
    await until(
      () => {
        if (listener.current() === undefined) lapsed = true;
        return performance.now() - t0 > 900;
      },
      { withinMs: 5000, what: 'three stale periods observed' },
    );
    expect(lapsed).toBe(false);

    proxy.set('blackhole');
    await until(() => listener.current() === undefined, { withinMs: 3000, what: 'the cut noticed' });
    // The connection itself has not noticed: only the heartbeat tells.
    expect(listener.listening).toBe(true);

    proxy.set('pass');
    await until(() => listener.current() !== undefined, { withinMs: 5000, what: 'delivering again' });
    expect(listener.current()).toBeGreaterThan(before as number);
  });
});
