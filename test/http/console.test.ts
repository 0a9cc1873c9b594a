import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { consolePath, consoleResponse } from '../../src/http/console.js';

/** A built console as Vite lays it out: index.html, hashed assets, its own bookkeeping in a dot folder. */
let dir: string;
let secretOutside: string;

beforeAll(async () => {
  const parent = await mkdtemp(join(tmpdir(), 'console-test-'));
  dir = join(parent, 'console');
  secretOutside = join(parent, 'secret.txt');
  await mkdir(join(dir, 'assets'), { recursive: true });
  await mkdir(join(dir, '.vite'), { recursive: true });
  await writeFile(join(dir, 'index.html'), '<!doctype html><html><head></head><body></body></html>');
  await writeFile(join(dir, 'assets', 'index-b2WH2vVE.js'), 'console.log(1)');
  await writeFile(join(dir, 'assets', 'index-ybyu4Pg6.css'), 'body{}');
  await writeFile(join(dir, 'assets', 'notes.exe'), 'MZ');
  await writeFile(join(dir, '.vite', 'manifest.json'), '{}');
  await writeFile(join(dir, 'robots.txt'), 'User-agent: *');
  await writeFile(secretOutside, 'do not serve');
});
afterAll(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

function get(path: string, params: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({ method: 'GET', url: `https://jobs.example.net/api/console${path}`, params });
}
function header(response: HttpResponseInit, name: string): string | undefined {
  return (response.headers as Record<string, string> | undefined)?.[name];
}

describe('the console files, as served at /api/console', () => {
  it('serves index.html for the folder itself, as HTML that is revalidated every time and may load only from its own origin', async () => {
    const response = await consoleResponse(get('/', { path: '' }), dir);
    expect(response.status).toBe(200);
    expect(header(response, 'Content-Type')).toBe('text/html; charset=utf-8');
    expect(header(response, 'Cache-Control')).toBe('no-cache');
    expect(header(response, 'Content-Security-Policy')).toContain("default-src 'self'");
    expect(header(response, 'Content-Security-Policy')).toContain("frame-ancestors 'none'");
    expect((response.body as Buffer).toString()).toContain('<!doctype html>');
  });

  it('serves the page also when the host passes no path parameter at all', async () => {
    expect((await consoleResponse(get('/'), dir)).status).toBe(200);
  });

  it.each([
    ['assets/index-b2WH2vVE.js', 'text/javascript; charset=utf-8'],
    ['assets/index-ybyu4Pg6.css', 'text/css; charset=utf-8'],
  ])('serves the hashed asset %s as %s, cached for a year as immutable', async (path, type) => {
    const response = await consoleResponse(get(`/${path}`, { path }), dir);
    expect(response.status).toBe(200);
    expect(header(response, 'Content-Type')).toBe(type);
    expect(header(response, 'Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(header(response, 'X-Content-Type-Options')).toBe('nosniff');
  });

  it('revalidates files outside assets/, whose names carry no hash', async () => {
    const response = await consoleResponse(get('/robots.txt', { path: 'robots.txt' }), dir);
    expect(header(response, 'Cache-Control')).toBe('no-cache');
    expect(header(response, 'Content-Type')).toBe('text/plain; charset=utf-8');
  });

  it('redirects /api/console to /api/console/, because the page loads its assets by relative URL', async () => {
    const response = await consoleResponse(new HttpRequest({ method: 'GET', url: 'https://jobs.example.net/api/console?x=1', params: {} }), dir);
    expect(response.status).toBe(308);
    expect(header(response, 'Location')).toBe('/api/console/?x=1');
  });

  it.each([
    ['a file that does not exist', 'assets/index-00000000.js'],
    ['a folder', 'assets'],
    ['a type the build never writes', 'assets/notes.exe'],
    ["the build's bookkeeping in a dot folder", '.vite/manifest.json'],
    ['a parent folder', '../secret.txt'],
    ['a parent folder after a real one', 'assets/../../secret.txt'],
    ['an absolute path', '/etc/passwd'],
    ['a backslash path', '..\\secret.txt'],
    ['an empty segment', 'assets//index-b2WH2vVE.js'],
    ['a NUL byte', 'index.html\0.js'],
  ])('answers 404 for %s', async (_name, path) => {
    const response = await consoleResponse(get(`/${encodeURIComponent(path)}`, { path }), dir);
    expect(response.status).toBe(404);
    expect(header(response, 'Content-Type')).toBe('application/problem+json');
    expect(JSON.stringify(response.jsonBody)).not.toContain('do not serve');
  });

  it('never resolves a path outside its folder', () => {
    for (const path of ['..', '../secret.txt', 'a/../../secret.txt', './index.html', 'a/./b']) expect(consolePath(dir, path)).toBeUndefined();
    expect(consolePath(dir, 'assets/index-b2WH2vVE.js')).toBe(join(dir, 'assets', 'index-b2WH2vVE.js'));
  });

  it('says how to build the console when it is not built', async () => {
    const response = await consoleResponse(get('/', { path: '' }), join(dir, 'no-such-build'));
    expect(response.status).toBe(404);
    expect((response.jsonBody as { detail: string }).detail).toContain('npm run build');
  });
});
