import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { FhirError } from '../common/errors';
import type { ValidatedResource } from './pipeline';
import type { ValidationReply, ValidationRequest } from './validation-worker';
import type { Validator } from './validator';

interface Pending {
  resolve(value: ValidatedResource): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  ready: Promise<void>;
}

/**
 * The write gate on worker threads. Validation is the largest piece of CPU work per write that needs
 * no database (0.2–0.5 ms per block resource, mostly @medplum/core's base validation), and the main
 * thread is the one that runs every SQLite statement: moving validation to the other core lets it
 * serve more writes. Each worker loads the definitions once (~150 MB); requests go to the worker
 * with the fewest in flight. A worker that dies fails its requests (500) and is replaced.
 */
export class ValidationPool {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private closing = false;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      this.slots.push(this.spawn());
    }
  }

  /** Resolves once every worker has loaded its definitions (the server is ready only then). */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  readonly validate: Validator = (body, expectedType, options) => {
    const slot = this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    const seq = ++this.seq;
    return new Promise<ValidatedResource>((resolve, reject) => {
      slot.pending.set(seq, { resolve, reject });
      const request: ValidationRequest = { seq, body, expectedType, options };
      slot.worker.postMessage(request);
    });
  };

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(path.join(__dirname, 'validation-worker.js'));
    // A pool someone forgot to close must not keep the process alive.
    worker.unref();
    const pending = new Map<number, Pending>();
    let markReady!: () => void;
    let failStart!: (err: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    const slot: Slot = { worker, pending, ready };
    let started = false;
    worker.on('message', (reply: ValidationReply | { ready: true }) => {
      if ('ready' in reply) {
        started = true;
        markReady();
        return;
      }
      const waiting = pending.get(reply.seq);
      pending.delete(reply.seq);
      if (!waiting) {
        return;
      }
      if ('ok' in reply) {
        waiting.resolve(reply.ok);
      } else if ('rejected' in reply) {
        waiting.reject(new FhirError(reply.rejected.status, reply.rejected.outcome));
      } else {
        waiting.reject(new Error(`Validation failed unexpectedly: ${reply.crashed}`));
      }
    });
    const fail = (err: unknown): void => {
      failStart(err);
      for (const waiting of pending.values()) {
        waiting.reject(err instanceof Error ? err : new Error(String(err)));
      }
      pending.clear();
      // Replaced only if it had started: one that cannot load its definitions would fail again
      // (start-up reports it through ready()).
      const index = this.slots.indexOf(slot);
      if (started && !this.closing && index >= 0) {
        this.slots[index] = this.spawn();
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closing) {
        fail(new Error(`Validation worker exited with code ${code}`));
      }
    });
    return slot;
  }
}
