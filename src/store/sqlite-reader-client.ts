import path from 'node:path';
import { WorkerChannel } from '../common/worker-channel';
import { formatBindings, KnexBetterSqlite3Client } from './sqlite-client';
import type { ReaderReply, ReaderRequest } from './sqlite-reader-thread';
import { toKnexResponse, type QueryObject } from './sqlite-statements';

type ReaderThread = WorkerChannel<ReaderRequest, ReaderReply>;

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
    const thread: ReaderThread = new WorkerChannel(path.join(__dirname, 'sqlite-reader-thread.js'), { workerData: { filename } });
    await thread.ready;
    return thread;
  }

  async destroyRawConnection(thread: ReaderThread): Promise<void> {
    await thread.close('SQLite reader thread closed');
  }

  validateConnection(thread: ReaderThread): boolean {
    return thread.failed === undefined;
  }

  async _query(thread: ReaderThread, obj: QueryObject): Promise<QueryObject> {
    if (!obj.sql) {
      throw new Error('The query is empty');
    }
    const reply = await thread.call({ sql: obj.sql, bindings: formatBindings(this, obj.bindings) });
    if ('error' in reply) {
      throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    }
    return toKnexResponse(obj, reply.result);
  }
}
