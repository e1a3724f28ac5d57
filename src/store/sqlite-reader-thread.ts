import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { StatementCache, type StatementResult } from './sqlite-statements';

/** A query from the main thread (src/store/sqlite-reader-client.ts). */
export interface ReaderRequest {
  seq: number;
  sql: string;
  bindings: unknown[];
}

export type ReaderReply = { seq: number; result: StatementResult } | { seq: number; error: { message: string; code?: string } };

// One read-only connection per thread: its statements run here, so a slow search blocks this
// thread, not the main thread that serves HTTP and writes.
const db = new Database((workerData as { filename: string }).filename);
db.exec('PRAGMA busy_timeout = 5000; PRAGMA query_only = 1;');
const statements = new StatementCache(db);

parentPort!.on('message', ({ seq, sql, bindings }: ReaderRequest) => {
  let reply: ReaderReply;
  try {
    reply = { seq, result: statements.execute(sql, bindings) };
  } catch (err) {
    const e = err as { message?: string; code?: string };
    reply = { seq, error: { message: String(e.message ?? err), code: e.code } };
  }
  parentPort!.postMessage(reply);
});
parentPort!.postMessage({ ready: true });
