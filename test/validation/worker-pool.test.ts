import { expect } from 'chai';
import type { Worker } from 'node:worker_threads';
import { FhirError } from '../../src/common/errors';
import { loadBaseDefinitions } from '../../src/definitions';
import { extractIndexRows } from '../../src/store/indexing/extract';
import { ValidationPool } from '../../src/validation/worker-pool';
import { blockOrder, blockProcedure, painScore, patient } from '../support/fixtures';

/** The pool's worker threads (private): to kill one as a crash would. */
const workersOf = (pool: ValidationPool): Worker[] => (pool as unknown as { slots: { worker: Worker }[] }).slots.map((s) => s.worker);

describe('Validation worker pool', function () {
  this.timeout(30_000);
  let pool: ValidationPool;

  before(async () => {
    loadBaseDefinitions(); // for the in-process fallback
    pool = new ValidationPool(1);
    await pool.ready();
  });
  after(async () => pool.close());

  it('validates on the worker: a valid resource passes, an invalid one is the gate\'s FhirError', async () => {
    const valid = await pool.validate(patient('Pool'), 'Patient');
    expect(valid.resource.resourceType).to.equal('Patient');
    const err = await pool.validate({ ...patient('Bad'), gender: 'sometimes' }, 'Patient').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(FhirError);
    expect([400, 422]).to.include((err as FhirError).status);
    expect((err as FhirError).outcome.resourceType).to.equal('OperationOutcome');
  });

  it('extracts the search index rows on the worker, the same rows the store would extract itself', async () => {
    const resources = [
      patient('Rows'),
      blockOrder('p1', 'pr1', 'PO-ROWS'),
      blockProcedure('p1', 'o1', 'pr1'),
      painScore('p1', 'proc1', 7, '2026-01-15T09:00:00Z', 'pre-block'),
    ];
    for (const resource of resources) {
      const valid = await pool.validate(resource, resource.resourceType);
      expect(valid.indexRows, resource.resourceType).to.deep.equal(extractIndexRows(valid.resource));
      expect(valid.indexRows!.token.length + valid.indexRows!.reference.length, resource.resourceType).to.be.greaterThan(0);
    }
  });

  it('survives a worker that dies: its request fails, later ones are validated (here, then by a replacement)', async () => {
    const [first] = workersOf(pool);
    const inFlight = pool.validate(patient('InFlight'), 'Patient').then(
      () => 'validated',
      () => 'failed',
    );
    await first.terminate();
    expect(['validated', 'failed']).to.include(await inFlight); // settled either way, never left hanging
    // No live worker now: validated on the calling thread.
    expect((await pool.validate(patient('Meanwhile'), 'Patient')).resource.resourceType).to.equal('Patient');
    // A replacement starts after a pause.
    const deadline = Date.now() + 15_000;
    while (workersOf(pool)[0] === first && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(workersOf(pool)[0], 'a replacement worker').to.not.equal(first);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // its definitions load
    expect((await pool.validate(patient('Replaced'), 'Patient')).resource.resourceType).to.equal('Patient');
  });

  it('after close, validation still answers (on the calling thread) instead of hanging', async () => {
    const other = new ValidationPool(1);
    await other.ready();
    await other.close();
    expect((await other.validate(patient('Closed'), 'Patient')).resource.resourceType).to.equal('Patient');
  });
});
