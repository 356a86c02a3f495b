/**
 * The requests being answered right now, so a shutdown whose deadline passed can still answer those
 * stuck waiting (for a database that hangs) with a 503 before it closes their connections.
 */
import type { OAuthError } from '@clavis/core';
import type { FastifyInstance, FastifyReply } from 'fastify';

export class InFlightRequests {
  readonly #replies = new Set<FastifyReply>();

  /** Tracks every request of `app` from arrival until its answer is sent. */
  track(app: FastifyInstance): void {
    // Callback hooks: no promise per request on the hot path.
    app.addHook('onRequest', (_request, reply, done) => {
      this.#replies.add(reply);
      done();
    });
    app.addHook('onResponse', (_request, reply, done) => {
      this.#replies.delete(reply);
      done();
    });
    // A client that went away: its reply is never sent.
    app.addHook('onRequestAbort', (request, done) => {
      for (const reply of this.#replies) if (reply.request === request) this.#replies.delete(reply);
      done();
    });
  }

  get size(): number {
    return this.#replies.size;
  }

  /**
   * Answers every request not answered yet with `error` (its RFC 6749 body, status and headers, and
   * `Connection: close`), through `send`. Returns how many were answered.
   */
  answerAll(error: OAuthError, send: (reply: FastifyReply, error: OAuthError) => void): number {
    let answered = 0;
    for (const reply of this.#replies) {
      this.#replies.delete(reply);
      if (reply.sent || reply.raw.headersSent) continue;
      reply.header('connection', 'close');
      send(reply, error);
      answered++;
    }
    return answered;
  }
}
