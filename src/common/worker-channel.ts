import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Request/reply with one worker thread. The worker posts `{ ready: true }` once loaded, then answers
 * each `{ seq, … }` message with a reply carrying the same `seq`. When the worker fails or exits,
 * every call in flight is rejected and later calls fail at once: nothing waits forever.
 */
export class WorkerChannel<Request extends object, Reply extends { seq: number }> {
  /** Resolves when the worker is loaded; rejects if it fails first. */
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(reply: Reply): void; reject(err: unknown): void }>();
  private seq = 0;
  private loaded = false;
  private error: Error | undefined;

  /** `onFail(error, wasReady)`: the worker died (not called after `close`). */
  constructor(file: string, options: WorkerOptions = {}, onFail?: (error: Error, wasReady: boolean) => void) {
    this.worker = new Worker(file, options);
    // A channel someone forgot to close must not keep the process alive.
    this.worker.unref();
    let markReady!: () => void;
    let failStart!: (err: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    // Rejections of `ready` are reported to whoever awaits it; nobody must be required to.
    this.ready.catch(() => undefined);
    this.worker.on('message', (message: Reply | { ready: true }) => {
      if ('ready' in message) {
        this.loaded = true;
        markReady();
        return;
      }
      const waiting = this.pending.get(message.seq);
      this.pending.delete(message.seq);
      waiting?.resolve(message);
    });
    const fail = (err: unknown): void => {
      if (this.error) {
        return;
      }
      this.error = err instanceof Error ? err : new Error(String(err));
      failStart(this.error);
      this.rejectPending(this.error);
      onFail?.(this.error, this.loaded);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`Worker thread ${file} exited (code ${code})`)));
  }

  /** Loaded and not failed or closed. */
  get live(): boolean {
    return this.loaded && !this.error;
  }

  get failed(): Error | undefined {
    return this.error;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  call(request: Omit<Request, 'seq'>): Promise<Reply> {
    if (this.error) {
      return Promise.reject(this.error);
    }
    const seq = ++this.seq;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.worker.postMessage({ ...request, seq });
    });
  }

  async close(reason: string): Promise<void> {
    this.error ??= new Error(reason);
    this.rejectPending(this.error);
    await this.worker.terminate();
  }

  private rejectPending(err: Error): void {
    for (const waiting of this.pending.values()) {
      waiting.reject(err);
    }
    this.pending.clear();
  }
}
