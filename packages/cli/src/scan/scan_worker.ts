/**
 * A scanning thread: receives texts from the worker pool, runs the engine on each and posts back the
 * hits. Started only by worker_pool.ts.
 */
import { parentPort } from 'node:worker_threads';
import { scanText } from './engine.js';
import type { WorkerReply, WorkerRequest } from './worker_pool.js';

const port = parentPort;
if (port === null) throw new Error('scan_worker.js runs only as a worker thread');
port.on('message', (request: WorkerRequest) => {
  scanText(Buffer.from(request.content).toString('utf8'), request.file, request.commit).then(
    (hits) => port.postMessage({ id: request.id, hits } satisfies WorkerReply),
    (err: unknown) =>
      port.postMessage({
        id: request.id,
        error: String((err as Error)?.message ?? err),
      } satisfies WorkerReply),
  );
});
