import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { FhirError } from '../common/errors';
import type { ValidatedResource } from './pipeline';
import type { ValidationReply, ValidationRequest } from './validation-worker';
import { validateInProcess, type Validator } from './validator';

interface Pending {
  resolve(value: ValidatedResource): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  ready: Promise<void>;
  /** Loaded and not dead: only live slots get requests. */
  live: boolean;
}

/** Wait before replacing a worker that died, so a worker that cannot start does not spin. */
const RESPAWN_DELAY_MS = 1000;

/**
 * The write gate on worker threads. Validation is the largest piece of CPU work per write that needs
 * no database (0.2–0.5 ms per block resource, mostly @medplum/core's base validation), and the main
 * thread is the one that runs every SQLite statement: moving validation to the other core lets it
 * serve more writes. Each worker loads the definitions once (~130 MB); requests go to the live
 * worker with the fewest in flight. A worker that dies fails its requests (500) and is replaced
 * after a pause; while no worker is live, validation runs on the calling thread.
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
    const live = this.slots.filter((s) => s.live);
    if (this.closing || live.length === 0) {
      return validateInProcess(body, expectedType, options);
    }
    const slot = live.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
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
    for (const slot of this.slots) {
      failPending(slot, new Error('The server is shutting down'));
    }
  }

  private spawn(): Slot {
    const worker = new Worker(path.join(__dirname, 'validation-worker.js'));
    // A pool someone forgot to close must not keep the process alive.
    worker.unref();
    let markReady!: () => void;
    let failStart!: (err: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    const slot: Slot = { worker, pending: new Map(), ready, live: false };
    worker.on('message', (reply: ValidationReply | { ready: true }) => {
      if ('ready' in reply) {
        slot.live = true;
        markReady();
        return;
      }
      const waiting = slot.pending.get(reply.seq);
      slot.pending.delete(reply.seq);
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
    let dead = false;
    const fail = (err: unknown): void => {
      if (dead) {
        return;
      }
      dead = true;
      const wasLive = slot.live;
      slot.live = false;
      failStart(err);
      failPending(slot, err);
      // A worker that had started is replaced (after a pause); one that could not start is not:
      // at start-up, ready() reports it; later, the slot stays dead and validation runs here.
      if (wasLive && !this.closing) {
        setTimeout(() => this.replace(slot), RESPAWN_DELAY_MS).unref();
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

  private replace(dead: Slot): void {
    const index = this.slots.indexOf(dead);
    if (this.closing || index < 0) {
      return;
    }
    const next = this.spawn();
    // Nobody awaits a replacement's start: its failure must not become an unhandled rejection.
    next.ready.catch(() => undefined);
    this.slots[index] = next;
  }
}

function failPending(slot: Slot, err: unknown): void {
  for (const waiting of slot.pending.values()) {
    waiting.reject(err instanceof Error ? err : new Error(String(err)));
  }
  slot.pending.clear();
}
