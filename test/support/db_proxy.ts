/**
 * A TCP proxy in front of PostgreSQL (or any TCP service) that a fault test switches between three
 * modes: `pass` (bytes flow), `refuse` (every open connection is reset and new ones are refused with an
 * RST: the database is down) and `blackhole` (no byte moves either way, new connections are accepted and
 * held: a network partition, lossless when lifted). The port stays the same across modes.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { PG_BASE_URL } from './dialects.js';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

export class DbProxy {
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  #server: Server | undefined;
  #mode: ProxyMode = 'pass';
  port = 0;

  constructor(target: string = PG_BASE_URL) {
    const url = new URL(target);
    this.#target = { host: url.hostname, port: Number(url.port || 5432) };
  }

  /** Starts listening on a loopback port (`port`, or one the OS picks). */
  async open(port = 0): Promise<void> {
    this.#server = createServer({ pauseOnConnect: true }, (client) => this.#accept(client));
    await new Promise<void>((resolve) => this.#server?.listen(port, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
  }

  /** `url` (a PostgreSQL URL) with its host and port pointing at this proxy. */
  via(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  #accept(client: Socket): void {
    client.on('error', () => {});
    if (this.#mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined };
    this.#pairs.add(pair);
    client.on('close', () => {
      pair.upstream?.destroy();
      this.#pairs.delete(pair);
    });
    if (this.#mode === 'pass') this.#connect(pair);
  }

  #connect(pair: Pair): void {
    const upstream = connect(this.#target.port, this.#target.host);
    pair.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => pair.client.destroy());
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    pair.client.resume();
  }

  /** Switches mode; `refuse` resets every open connection at once. */
  set(mode: ProxyMode): void {
    const before = this.#mode;
    this.#mode = mode;
    if (mode === 'refuse') {
      for (const pair of this.#pairs) {
        pair.upstream?.destroy();
        pair.client.resetAndDestroy();
      }
      this.#pairs.clear();
    } else if (mode === 'blackhole') {
      for (const { client, upstream } of this.#pairs) {
        if (!upstream) continue;
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    } else if (before === 'blackhole') {
      for (const pair of this.#pairs) {
        if (!pair.upstream) {
          this.#connect(pair);
          continue;
        }
        pair.client.pipe(pair.upstream);
        pair.upstream.pipe(pair.client);
        pair.client.resume();
        pair.upstream.resume();
      }
    }
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.#pairs) {
      upstream?.destroy();
      client.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
