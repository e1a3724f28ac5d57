#!/usr/bin/env node
// Compiles the physician page (web/src/*.ts → dist/web/*.js, browser ES modules) when missing or
// older than its sources. Run by `npm install` (prepare), `npm start` (prestart), `npm run build`
// and the browser tests, so the page is never served stale. Plain tsc: nothing to fetch.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const web = __dirname;
const out = path.join(web, '..', 'dist', 'web');
const stamp = path.join(out, '.build-stamp');

function newest(dir) {
  return Math.max(0, ...fs.readdirSync(dir, { withFileTypes: true }).map((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs;
  }));
}

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // A production install without dev dependencies: serve what was built before, if anything.
  process.stderr.write('web/build.js: typescript is not installed; the physician page is not rebuilt\n');
  process.exit(0);
}
const sources = Math.max(newest(path.join(web, 'src')), fs.statSync(path.join(web, 'tsconfig.json')).mtimeMs);
const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
if (built < sources) {
  execFileSync(process.execPath, [tsc, '-p', path.join(web, 'tsconfig.json')], { stdio: 'inherit' });
  fs.writeFileSync(stamp, new Date().toISOString());
}
