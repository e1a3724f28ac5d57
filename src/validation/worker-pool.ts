import path from 'node:path';
import { FhirError } from '../common/errors';
import { WorkerChannel } from '../common/worker-channel';
import type { ValidatedResource } from './pipeline';
import type { ValidationReply, ValidationRequest } from './validation-worker';
import { validateInProcess, type Validator } from './validator';

type Slot = WorkerChannel<ValidationRequest, ValidationReply>;

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

  readonly validate: Validator = async (body, expectedType, options) => {
    const live = this.slots.filter((s) => s.live);
    if (this.closing || live.length === 0) {
      return validateInProcess(body, expectedType, options);
    }
    const slot = live.reduce((best, s) => (s.inFlight < best.inFlight ? s : best));
    const reply = await slot.call({ body, expectedType, options });
    if ('ok' in reply) {
      return reply.ok as ValidatedResource;
    }
    if ('rejected' in reply) {
      throw new FhirError(reply.rejected.status, reply.rejected.outcome);
    }
    throw new Error(`Validation failed unexpectedly: ${reply.crashed}`);
  };

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.close('The server is shutting down')));
  }

  private spawn(): Slot {
    const slot: Slot = new WorkerChannel(path.join(__dirname, 'validation-worker.js'), {}, (_error, wasReady) => {
      // A worker that had started is replaced (after a pause); one that could not start is not:
      // at start-up, ready() reports it; later, the slot stays dead and validation runs here.
      if (wasReady && !this.closing) {
        setTimeout(() => this.replace(slot), RESPAWN_DELAY_MS).unref();
      }
    });
    return slot;
  }

  private replace(dead: Slot): void {
    const index = this.slots.indexOf(dead);
    if (!this.closing && index >= 0) {
      this.slots[index] = this.spawn();
    }
  }
}
