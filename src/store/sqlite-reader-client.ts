import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { formatBindings, KnexBetterSqlite3Client } from './sqlite-client';
import type { ReaderReply, ReaderRequest } from './sqlite-reader-thread';
import { toKnexResponse, type QueryObject } from './sqlite-statements';

interface ReaderThread {
  worker: Worker;
  pending: Map<number, { resolve(reply: ReaderReply): void; reject(err: unknown): void }>;
  seq: number;
  failed?: Error;
}

/**
 * SQLite reads on threads of their own: each pooled "connection" is a worker thread holding one
 * read-only better-sqlite3 connection (./sqlite-reader-thread.ts). Statements are synchronous in
 * better-sqlite3, so a slow search run on the main thread (a `_total=accurate` over 300k rows:
 * 0.85 s) would stall every other request; here it stalls one reader thread, and reads run in
 * parallel with the writer on the other core. Used for reads outside transactions (`readerFor`).
 */
export class ReaderThreadClient extends KnexBetterSqlite3Client {
  async acquireRawConnection(): Promise<ReaderThread> {
    const filename = (this as unknown as { connectionSettings: { filename: string } }).connectionSettings.filename;
    const worker = new Worker(path.join(__dirname, 'sqlite-reader-thread.js'), { workerData: { filename } });
    // A pool someone forgot to destroy must not keep the process alive.
    worker.unref();
    const thread: ReaderThread = { worker, pending: new Map(), seq: 0 };
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown): void => {
        thread.failed = err instanceof Error ? err : new Error(String(err));
        reject(thread.failed);
        for (const waiting of thread.pending.values()) {
          waiting.reject(thread.failed);
        }
        thread.pending.clear();
      };
      worker.on('message', (reply: ReaderReply | { ready: true }) => {
        if ('ready' in reply) {
          resolve();
          return;
        }
        const waiting = thread.pending.get(reply.seq);
        thread.pending.delete(reply.seq);
        waiting?.resolve(reply);
      });
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`SQLite reader thread exited (code ${code})`)));
    });
    return thread;
  }

  async destroyRawConnection(thread: ReaderThread): Promise<void> {
    thread.failed ??= new Error('SQLite reader thread closed');
    await thread.worker.terminate();
  }

  validateConnection(thread: ReaderThread): boolean {
    return thread.failed === undefined;
  }

  async _query(thread: ReaderThread, obj: QueryObject): Promise<QueryObject> {
    if (!obj.sql) {
      throw new Error('The query is empty');
    }
    if (thread.failed) {
      throw thread.failed;
    }
    const bindings = formatBindings(this, obj.bindings);
    const seq = ++thread.seq;
    const reply = await new Promise<ReaderReply>((resolve, reject) => {
      thread.pending.set(seq, { resolve, reject });
      const request: ReaderRequest = { seq, sql: obj.sql, bindings };
      thread.worker.postMessage(request);
    });
    if ('error' in reply) {
      throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    }
    return toKnexResponse(obj, reply.result);
  }
}
