import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { Grants, grantScopes, parseScope } from '../../src/auth/scopes';

describe('SMART scopes', () => {
  it('parses v1 and v2 syntax', () => {
    expect([...parseScope('system/Observation.read')!.perms]).to.deep.equal(['r', 's']);
    expect([...parseScope('system/*.write')!.perms]).to.deep.equal(['c', 'u', 'd']);
    expect([...parseScope('user/Patient.cruds')!.perms]).to.deep.equal(['c', 'r', 'u', 'd', 's']);
    for (const bad of ['system/Observation.sr', 'system/Observation.', 'system/Observation.rs?code=1', 'launch', 'openid', 'system/observation.read']) {
      expect(parseScope(bad), bad).to.equal(undefined);
    }
  });

  it('grants what the registration covers, as asked, and never patient/ scopes', () => {
    const registered = ['system/*.rs', 'system/ServiceRequest.write'];
    expect(grantScopes(['system/Patient.read', 'system/ServiceRequest.cu', 'system/Patient.c'], registered)).to.deep.equal([
      'system/Patient.read',
      'system/ServiceRequest.cu',
    ]);
    expect(grantScopes(['system/*.read'], ['system/Patient.read'])).to.deep.equal([]);
    expect(grantScopes(['patient/*.read'], ['system/*.*'])).to.deep.equal([]);
    expect(grantScopes(['system/AuditEvent.rs'], ['system/*.*'])).to.deep.equal([]);
  });

  it('keeps AuditEvent out of the wildcard', () => {
    const g = new Grants(['system/*.*']);
    expect(g.allows('Observation', 'd')).to.equal(true);
    expect(g.allows('AuditEvent', 'r')).to.equal(false);
    expect(new Grants(['system/AuditEvent.rs']).allows('AuditEvent', 's')).to.equal(true);
  });
});

describe('npm run client', () => {
  it('adds, lists and disables clients in the configured database', async () => {
    const run = promisify(execFile);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbf-client-'));
    const env = { ...process.env, DATABASE_URL: `sqlite:${path.join(dir, 'fhir.sqlite')}` };
    const script = path.join(__dirname, '..', '..', 'scripts', 'client.js');
    try {
      const jwks = path.join(dir, 'jwks.json');
      fs.writeFileSync(jwks, JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-384', x: 'AAAA', y: 'BBBB', kid: 'k1' }] }));
      const added = await run('node', [script, 'add', '--name', 'EHR', '--jwks', jwks, '--scopes', 'system/*.rs'], { env });
      const id = added.stdout.trim();
      expect(id).to.match(/^[0-9a-f-]{36}$/);
      await run('node', [script, 'disable', id], { env });
      const listed = await run('node', [script, 'list'], { env });
      expect(listed.stdout).to.match(new RegExp(`^${id}\tDISABLED\tEHR\tsystem/\\*\\.rs\t1 key\\(s\\)`));
      const privateKey = path.join(dir, 'private.json');
      fs.writeFileSync(privateKey, JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-384', x: 'A', y: 'B', d: 'secret' }] }));
      const refused = await run('node', [script, 'add', '--name', 'x', '--jwks', privateKey, '--scopes', 'system/*.rs'], { env }).catch(
        (err: { code: number; stderr: string }) => err,
      );
      expect((refused as { stderr: string }).stderr).to.contain('private');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
