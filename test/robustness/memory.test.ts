import { expect } from 'chai';
import { createSqliteDatabase, rssMiB, startChild, type ChildDatabase, type ChildServer } from './child';

/**
 * Start-up garbage (the parsed FHIR definitions, on the main thread and on the validation worker) is
 * handed back before the server answers (src/common/memory.ts): measured here 221 MB RSS with it,
 * 327 MB without, for the server with its default validation worker.
 */
describe('Memory after start-up', function () {
  this.timeout(90_000);
  let database: ChildDatabase;
  let child: ChildServer | undefined;

  before(async () => {
    database = await createSqliteDatabase();
  });
  after(async () => {
    child?.process.kill('SIGKILL');
    await database.dispose();
  });

  it('a ready server with its validation worker holds well under 300 MB', async () => {
    child = await startChild(database.url);
    const rss = rssMiB(child.process.pid!);
    expect(rss, 'RSS in MiB').to.be.a('number').and.lessThan(275);
  });
});
