import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * `npm run fuzz [-- SCALE]`: the property-based hostile-input suite (test/robustness) with SCALE
 * times the cases of `npm test` (default 20: about 16,000 cases per database). SQLite, plus
 * PostgreSQL when TEST_DATABASE_URL is set; FUZZ_SEED=n replays a failing run.
 */
const scale = process.argv[2] ?? process.env.FUZZ_SCALE ?? '20';
if (!/^\d+(\.\d+)?$/.test(scale)) {
  process.stderr.write(`usage: npm run fuzz [-- SCALE]  (got '${scale}')\n`);
  process.exit(2);
}
// Compiled to dist/scripts/fuzz.js: the suite is beside it in dist/test.
const suite = path.join(__dirname, '..', 'test', 'robustness', 'bad-input.property.test.js');
const mocha = require.resolve('mocha/bin/mocha.js');
const result = spawnSync(process.execPath, [mocha, '--no-config', '--timeout', '0', '--exit', suite], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SCALE: scale, FUZZ_VERBOSE: '1' },
});
process.exit(result.status ?? 1);
