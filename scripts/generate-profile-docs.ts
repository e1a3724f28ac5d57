/** `npm run profiles:docs`: writes docs/profiles.md from the FHIR package in profiles/. */
import fs from 'node:fs';
import path from 'node:path';
import { generateProfileDocs } from '../src/profiles/docs';

const target = path.join(__dirname, '..', '..', 'docs', 'profiles.md');
fs.writeFileSync(target, generateProfileDocs());
process.stdout.write(`wrote ${target}\n`);
