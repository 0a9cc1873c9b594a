import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { HttpRequest, HttpResponseInit } from '@azure/functions';

import { problem } from './problem.js';

/**
 * Where the console is. In the deployment bundle (scripts/package.ts) every module is one of the files in the
 * package's dist/, and the console is dist/console beside them. Otherwise it is where `npm run build:console`
 * writes it, dist/console: compiled, this module is dist/src/http/console.js; run from source by tsx it is
 * src/http/console.ts, two levels below the project root.
 */
function defaultConsoleDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  if (basename(here) === 'dist') return join(here, 'console');
  const base = fileURLToPath(new URL('../../', import.meta.url));
  return basename(base) === 'dist' ? join(base, 'console') : join(base, 'dist', 'console');
}
let consoleDir = defaultConsoleDir();

/** Serve the console from another folder: tests and the local runtime's checks build it elsewhere. */
export function serveConsoleFrom(dir: string): void {
  consoleDir = dir;
}

/** Only what the build writes is served, each with its type; anything else is a 404, never a guess. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Vite names every file under assets/ by its content hash: a new build is a new name, so they never change. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the current assets: the browser must ask each time whether it changed. */
const REVALIDATE = 'no-cache';

/**
 * The page holds no data and calls only this origin's API (with the key it was given), so it may load nothing
 * from elsewhere, run no inline script and be framed by no one.
 */
const PAGE_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The file a request path names inside `dir`, or undefined: empty, dot and `..` segments, backslashes and NULs never resolve. */
export function consolePath(dir: string, path: string): string | undefined {
  const relative = path === '' ? 'index.html' : path;
  const segments = relative.split('/');
  // A dot file (.vite/manifest.json) is build bookkeeping, not part of the page.
  if (segments.some((s) => s === '' || s.startsWith('.')) || /[\\\0]/.test(relative)) return undefined;
  const root = resolve(dir);
  const full = resolve(root, ...segments);
  return full.startsWith(root + sep) ? full : undefined;
}

function notFound(what: string): HttpResponseInit {
  return problem(404, 'NotFound', what);
}

/**
 * GET /api/console/{*path}: the console's built files. `/api/console` itself is redirected to `/api/console/`,
 * because the page loads its assets by relative URL.
 */
export async function consoleResponse(request: HttpRequest, dir: string = consoleDir): Promise<HttpResponseInit> {
  const url = new URL(request.url);
  const path = request.params.path ?? '';
  if (path === '' && !url.pathname.endsWith('/')) {
    return { status: 308, headers: { Location: `${url.pathname}/${url.search}`, 'Cache-Control': REVALIDATE } };
  }
  const file = consolePath(dir, path);
  const type = file === undefined ? undefined : CONTENT_TYPES[extname(file).toLowerCase()];
  if (file === undefined || type === undefined) return notFound(`the console has no file "${path}"; open /api/console/`);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    return notFound(
      path === '' ? `the console is not built into ${dir}: run npm run build (or npm run build:console)` : `the console has no file "${path}"; open /api/console/`,
    );
  }
  const immutable = file.startsWith(join(resolve(dir), 'assets') + sep);
  return {
    status: 200,
    headers: {
      'Content-Type': type,
      'Cache-Control': immutable ? IMMUTABLE : REVALIDATE,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...(type.startsWith('text/html') ? { 'Content-Security-Policy': PAGE_POLICY } : {}),
    },
    body: await readFile(file),
  };
}
