import { expect } from 'chai';
import type { Resource } from '@medplum/fhirtypes';
import { bindingPlan, checkBaseBindings } from '../../src/validation/bindings';

describe('R4 required bindings on code elements', () => {
  it('finds the bound code elements of a type, nested ones and choice types included', () => {
    const paths = bindingPlan('Patient').map((b) => b.steps.map((s) => s.name).join('.'));
    expect(paths).to.include.members(['gender', 'contact.gender', 'identifier.use', 'telecom.system', 'link.type']);
    expect(bindingPlan('Observation').map((b) => b.steps.map((s) => s.name).join('.'))).to.include.members(['status', 'valueQuantity.comparator']);
  });

  it('rejects codes outside the value set with the element and the allowed codes', () => {
    const issues = checkBaseBindings({
      resourceType: 'Patient',
      gender: 'x',
      contact: [{ gender: 'female' }, { gender: 'f' }],
    } as unknown as Resource);
    expect(issues.map((i) => i.expression?.[0])).to.deep.equal(['Patient.gender', 'Patient.contact[1].gender']);
    expect(issues[0]).to.include({ severity: 'error', code: 'code-invalid' });
    expect(issues[0].diagnostics).to.include('male, female, other, unknown');
  });

  it('accepts valid codes', () => {
    expect(checkBaseBindings({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', priority: 'urgent' } as Resource)).to.deep.equal([]);
  });
});
