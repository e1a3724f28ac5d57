import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { generateProfileDocs } from '../../src/profiles/docs';
import { generatePackageFiles } from '../../src/profiles/generated-files';
import { PROFILES_DIR, readResourceFiles } from '../../src/profiles/package-files';
import { profileRegistry } from '../../src/profiles/registry';

describe('the FHIR package in profiles/', () => {
  const resources = readResourceFiles().map((f) => f.resource);

  it('is an NPM FHIR package for R4 that depends on hl7.fhir.r4.core', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(PROFILES_DIR, 'package.json'), 'utf8'));
    expect(manifest.name).to.equal('sympathetic-block-fhir.profiles');
    expect(manifest.fhirVersions).to.deep.equal(['4.0.1']);
    expect(manifest.dependencies).to.deep.equal({ 'hl7.fhir.r4.core': '4.0.1' });
    expect(manifest.canonical).to.equal('http://sympathetic-block-fhir.org/fhir');
    const index = JSON.parse(fs.readFileSync(path.join(PROFILES_DIR, '.index.json'), 'utf8'));
    expect(index.files.map((f: { filename: string }) => f.filename)).to.include('StructureDefinition-block-order.json');
  });

  it('has committed snapshots, ImplementationGuide and .index.json equal to a fresh generation (npm run profiles:snapshots)', () => {
    for (const [file, content] of generatePackageFiles()) {
      expect(fs.readFileSync(path.join(PROFILES_DIR, file), 'utf8'), `${file} is stale: run npm run profiles:snapshots`).to.equal(content);
    }
  });

  it('has docs/profiles.md up to date (npm run profiles:docs)', () => {
    const committed = fs.readFileSync(path.join(PROFILES_DIR, '..', 'docs', 'profiles.md'), 'utf8');
    expect(committed, 'docs/profiles.md is stale: run npm run profiles:docs').to.equal(generateProfileDocs());
  });

  it('gives every StructureDefinition a differential and a snapshot that starts at its type', () => {
    const sds = resources.filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition');
    expect(sds.map((s) => s.id)).to.include.members(['block-order', 'block-procedure', 'block-pain-score', 'block-skin-temperature']);
    for (const sd of sds) {
      expect(sd.differential?.element?.length, sd.id).to.be.greaterThan(0);
      expect(sd.snapshot?.element?.[0]?.path, sd.id).to.equal(sd.type);
      for (const diff of sd.differential?.element ?? []) {
        expect(sd.snapshot?.element?.some((e) => e.id === diff.id), `${sd.id}: ${diff.id}`).to.equal(true);
      }
    }
  });

  it('binds only to ValueSets of the package, all expandable offline', () => {
    const urls = new Set(resources.filter((r): r is ValueSet => r.resourceType === 'ValueSet').map((v) => v.url));
    const registry = profileRegistry();
    for (const sd of resources.filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition')) {
      for (const el of sd.differential?.element ?? []) {
        if (el.binding?.valueSet) {
          expect(urls.has(el.binding.valueSet), `${el.id} → ${el.binding.valueSet}`).to.equal(true);
          expect(registry.terminology.expand(el.binding.valueSet)?.complete).to.equal(true);
        }
      }
    }
  });

  it('marks the codes the domain notes call unverified', () => {
    const drugs = resources.find((r) => r.id === 'block-injectate-drug') as ValueSet;
    const bupivacaine = drugs.compose?.include?.flatMap((i) => i.concept ?? []).find((c) => c.code === '1815');
    expect(bupivacaine?.designation?.[0]?.value).to.match(/^UNVERIFIED/);
  });

  it('defines the custom search parameters with code, base, type and expression', () => {
    const params = resources.filter((r) => r.resourceType === 'SearchParameter') as { code: string; base: string[]; type: string; expression: string; url: string }[];
    expect(params.map((p) => p.code)).to.include.members(['block-type', 'laterality', 'diagnostic-response']);
    for (const p of params) {
      expect(p.url).to.match(/^http:\/\/sympathetic-block-fhir\.org\/fhir\/SearchParameter\//);
      expect(p.base.length).to.be.greaterThan(0);
      expect(p.type).to.equal('token');
      expect(p.expression).to.be.a('string');
    }
  });
});
