/**
 * HTTP/1.1 over a bare socket, for the shutdown tests: a request can be sent in pieces (so it is in
 * flight, or only begun, at the moment the server starts to close), and the test sees exactly which
 * answers arrived and when the server closed the connection.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  readonly #socket: Socket;
  #buffer = '';
  readonly responses: RawResponse[] = [];
  #waiters: Array<() => void> = [];
  closed = false;
  readonly #closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      this.#parse();
    });
    socket.on('error', () => {});
    this.#closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        for (const w of this.#waiters.splice(0)) w();
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(text: string): void {
    this.#socket.write(text);
  }

  #parse(): void {
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = this.#buffer.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (this.#buffer.length < end + 4 + length) return;
      const body = this.#buffer.slice(end + 4, end + 4 + length);
      this.#buffer = this.#buffer.slice(end + 4 + length);
      this.responses.push({ status: Number(statusLine.split(' ')[1]), headers, body });
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  /** Resolves with the `n`th response (1-based), or undefined if the connection closes first. */
  async response(n = 1): Promise<RawResponse | undefined> {
    while (this.responses.length < n && !this.closed) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.responses[n - 1];
  }

  /** Resolves once the server has closed the connection. */
  whenClosed(): Promise<void> {
    return this.#closedPromise;
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** The text of a form POST; `cut` splits it into the part sent now and the rest. */
export function formPost(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams(form).toString();
  const head = [
    `POST ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    'content-type: application/x-www-form-urlencoded',
    `content-length: ${body.length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  return `${head}\r\n\r\n${body}`;
}

export function get(path: string): string {
  return `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`;
}
