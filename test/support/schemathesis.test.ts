import { describe, expect, it } from 'vitest';

import { assertLoopback, documentOperations, errorsWithoutProblemJson, externalRefs, type HarEntry, operationOf, parseJunit } from './schemathesis.js';

/** The readers of Schemathesis' reports that the fuzz test's verdict rests on. */

function entry(status: number, contentType: string | undefined, text: string, url = 'http://127.0.0.1:7071/api/runs/x/logs'): HarEntry {
  return {
    request: { method: 'GET', url },
    response: { status, headers: contentType === undefined ? [] : [{ name: 'Content-Type', value: contentType }], content: { text } },
    time: 3,
  };
}

describe('errorsWithoutProblemJson', () => {
  const problem = (status: number) => JSON.stringify({ type: 'docs/errors.md#notfound', title: 'NotFound', status, detail: 'no run x' });
  it.each([
    { name: 'a problem+json 404 with its status in the body', e: entry(404, 'application/problem+json', problem(404)), bad: false },
    { name: 'a success answer in plain JSON', e: entry(200, 'application/json; charset=utf-8', '{}'), bad: false },
    { name: 'a 400 in plain JSON', e: entry(400, 'application/json', problem(400)), bad: true },
    { name: 'a 404 without a Content-Type', e: entry(404, undefined, ''), bad: true },
    { name: 'a problem+json whose body says another status', e: entry(409, 'application/problem+json', problem(404)), bad: true },
    { name: 'a problem+json whose body is not JSON', e: entry(400, 'application/problem+json', 'oops'), bad: true },
    { name: 'no answer at all (a timeout)', e: entry(0, undefined, ''), bad: true },
    { name: "a run's status route answering 424 with the failed run's snapshot", e: entry(424, 'application/json', '{"status":"Cancelled"}', 'http://127.0.0.1:7071/api/runs/x?code=k'), bad: false },
    { name: 'a 424 in plain JSON from any other route', e: entry(424, 'application/json', '{}', 'http://127.0.0.1:7071/api/runs/x/cancel'), bad: true },
  ])('$name: flagged $bad', ({ e, bad }) => {
    expect(errorsWithoutProblemJson([e]).length).toBe(bad ? 1 : 0);
  });
});

describe('parseJunit', () => {
  it('reads one case per operation, with its failure or skip, names unescaped', () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="schemathesis">
  <testcase name="GET /runs/{runId}" time="1.2"><failure type="failure" message="ST101">1. Test Case ID: a &amp; b</failure></testcase>
  <testcase name="POST /jobs/{namespace}/{name}/runs" time="0.4"></testcase>
  <testcase name="GET /schedules/preview" time="0"><skipped type="skipped" message="No examples"/></testcase>
  <testcase name="GET /a&quot;b" time="0.1"/>
</testsuite></testsuites>`;
    expect(parseJunit(xml)).toEqual([
      { name: 'GET /runs/{runId}', failed: true, skipped: false },
      { name: 'POST /jobs/{namespace}/{name}/runs', failed: false, skipped: false },
      { name: 'GET /schedules/preview', failed: false, skipped: true },
      { name: 'GET /a"b', failed: false, skipped: false },
    ]);
  });
});

describe('documentOperations and externalRefs', () => {
  const doc = {
    paths: {
      '/runs/{runId}': { parameters: [], get: { responses: { '200': { $ref: '#/components/responses/Snapshot' } } } },
      '/cronjobs/{namespace}/{name}': { get: {}, patch: {}, delete: { responses: { '200': { $ref: 'https://example.invalid/x.json' } } } },
    },
  };
  it('lists every method of every path as Schemathesis labels it, and the references that leave the document', () => {
    expect(documentOperations(doc)).toEqual(['GET /runs/{runId}', 'GET /cronjobs/{namespace}/{name}', 'DELETE /cronjobs/{namespace}/{name}', 'PATCH /cronjobs/{namespace}/{name}']);
    expect(externalRefs(doc)).toEqual(['https://example.invalid/x.json']);
  });
});

describe('operationOf', () => {
  const operations = ['GET /runs/{runId}', 'GET /runs/{runId}/logs', 'GET /cronjobs/{namespace}/{name}', 'GET /openapi.json', 'GET /{thing}', 'POST /runs/{runId}/cancel'];
  const base = 'http://127.0.0.1:7071/api';
  it.each([
    { name: 'a templated path', method: 'GET', url: `${base}/runs/r-1/logs?tailLines=5`, op: 'GET /runs/{runId}/logs' },
    { name: 'the method picks among the templates', method: 'POST', url: `${base}/runs/r-1/cancel`, op: 'POST /runs/{runId}/cancel' },
    { name: 'an encoded parameter', method: 'get', url: `${base}/cronjobs/ns/%C3%A9t%C3%A9`, op: 'GET /cronjobs/{namespace}/{name}' },
    { name: 'a literal path before a template that also matches', method: 'GET', url: `${base}/openapi.json`, op: 'GET /openapi.json' },
    { name: 'a method the document lacks', method: 'TRACE', url: `${base}/runs/r-1`, op: undefined },
    { name: 'a path with one segment too many', method: 'GET', url: `${base}/runs/r-1/logs/x`, op: undefined },
    { name: 'another origin', method: 'GET', url: 'http://127.0.0.1:9/api/runs/r-1', op: undefined },
  ])('$name', ({ method, url, op }) => {
    expect(operationOf(operations, base, method, url)).toBe(op);
  });
});

describe('assertLoopback', () => {
  it.each(['http://127.0.0.1:7071/api', 'http://localhost:80/api/openapi.json', 'http://[::1]:9/api'])('takes %s', (url) => {
    expect(assertLoopback(url).protocol).toBe('http:');
  });
  it.each(['http://10.0.0.4/api', 'http://192.168.1.1/api', 'https://127.0.0.1/api', 'http://example.com/api', 'http://127.0.0.1.example.com/api'])('refuses %s', (url) => {
    expect(() => assertLoopback(url)).toThrow(/only targets http on loopback/);
  });
});
