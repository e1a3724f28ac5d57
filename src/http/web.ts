import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';

// Compiled to dist/src/http/web.js: the repository root is three levels up.
const ROOT = path.resolve(__dirname, '..', '..', '..');
const PAGE_DIR = path.join(ROOT, 'web');
const SCRIPT_DIR = path.join(ROOT, 'dist', 'web');

/**
 * The page may run its own scripts and styles and call /fhir on this origin, nothing else: the
 * app-wide policy (`default-src 'none'`, for an API) is replaced on these responses only.
 */
const PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The physician page (web/, docs/OUTCOMES.md) at `/`: index.html and styles.css from web/, the
 * compiled scripts from dist/web under /app/. Static files only: the page talks to /fhir like any
 * client, so it holds no credential and gets no privilege from being served here.
 */
export function physicianPage(): express.Router {
  const router = express.Router();
  const pagePolicy = (_req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('Content-Security-Policy', PAGE_POLICY);
    next();
  };
  const options = { index: false, fallthrough: true, redirect: false, dotfiles: 'ignore' as const, maxAge: 0 };
  router.get('/', pagePolicy, (_req, res) => res.type('html').sendFile(path.join(PAGE_DIR, 'index.html')));
  router.get('/styles.css', pagePolicy, (_req, res) => res.type('css').sendFile(path.join(PAGE_DIR, 'styles.css')));
  router.use('/app', pagePolicy, (_req: Request, res: Response, next: NextFunction) => {
    if (!fs.existsSync(SCRIPT_DIR)) {
      res.status(503).type('text').send('The physician page is not built: run `npm run build` (or `node web/build.js`).');
      return;
    }
    next();
  });
  router.use('/app', express.static(SCRIPT_DIR, { ...options, extensions: false }));
  return router;
}
