import { parentPort } from 'node:worker_threads';
import { FhirError } from '../common/errors';
import { releaseStartupGarbage } from '../common/memory';
import { loadBaseDefinitions } from '../definitions';
import { extractIndexRows } from '../store/indexing/extract';
import { SUPPORTED_RESOURCE_TYPES } from '../fhir/resource-types';
import { validateForWrite } from './pipeline';
import type { ProfileOptions } from './profile-stage';
import { warmUpStructureValidators } from './schema';

/** A request from the pool: one resource to put through the write gate. */
export interface ValidationRequest {
  seq: number;
  body: unknown;
  expectedType: string;
  options?: ProfileOptions;
}

/** The answer: the gate's result, its FhirError, or an unexpected failure (a bug: answered as 500). */
export type ValidationReply =
  | { seq: number; ok: ReturnType<typeof validateForWrite> }
  | { seq: number; rejected: { status: number; outcome: FhirError['outcome'] } }
  | { seq: number; crashed: string };

// Worker thread entry (src/validation/worker-pool.ts starts it): definitions and compiled schemas
// are loaded once per thread, then every message is one pass through the same pipeline.
loadBaseDefinitions();
warmUpStructureValidators(SUPPORTED_RESOURCE_TYPES);
releaseStartupGarbage();

parentPort!.on('message', (req: ValidationRequest) => {
  let reply: ValidationReply;
  try {
    const valid = validateForWrite(req.body, req.expectedType, req.options);
    // The search index rows too: pure CPU (FHIRPath) that would otherwise run on the main thread.
    reply = { seq: req.seq, ok: { ...valid, indexRows: extractIndexRows(valid.resource) } };
  } catch (err) {
    reply =
      err instanceof FhirError
        ? { seq: req.seq, rejected: { status: err.status, outcome: err.outcome } }
        : { seq: req.seq, crashed: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  parentPort!.postMessage(reply);
});
parentPort!.postMessage({ ready: true });
