// Run by test/package and bench/cold-start in a fresh Node with a deployment package as its working folder:
// loads package.json `main` from there, as the Functions worker does, and writes what it registered, the files
// it loaded and what that took to the file named by the first argument. A second argument `node=<version>`
// makes the process report that Node.js release, to try the entry point's floor check. With `first-request`, it
// then times the first requests that need a Kubernetes client (see firstRequests below).
//
// Only the worker's own module (@azure/functions-core, which the host supplies) is replaced, by the local
// stand-in that records registrations, and the way the worker supplies it: a proxy on Module.prototype.require
// that answers that one name (azure-functions-nodejs-worker src/setupCoreModule.ts). This file uses nothing but
// Node's built-in modules, so every other module comes from the package or nowhere.
'use strict';
/* global __dirname, console, process, performance, Headers, URLSearchParams */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, so that the proxy is in place before any import */
const Module = require('node:module');
const { readFileSync, writeFileSync } = require('node:fs');
const { resolve, join } = require('node:path');
const { pathToFileURL } = require('node:url');

const core = require(resolve(__dirname, '../../local/host/functions-core.cjs'));
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) {
    return args[0] === '@azure/functions-core' ? core : Reflect.apply(target, thisArg, args);
  },
});

const pretend = process.argv.slice(3).find((arg) => arg.startsWith('node='));
if (pretend) Object.defineProperty(process.versions, 'node', { value: pretend.slice('node='.length) });

// A kubeconfig cluster "first" beside those CLUSTERS names, whose API server (on loopback, started after the
// load is measured) has no CronJobs: the file is written once the server listens, before the first request.
const firstRequest = process.argv.slice(3).includes('first-request');
const kubeconfigPath = join(process.env.HOME ?? '.', 'first-request.kubeconfig');
if (firstRequest) {
  const clusters = JSON.parse(process.env.CLUSTERS ?? '[]');
  process.env.CLUSTERS = JSON.stringify([...clusters, { alias: 'first', type: 'kubeconfig', kubeconfigPath, namespaces: ['batch'] }]);
}

// Every module file loaded (CommonJS and ESM alike), in order; Node 22.15 and later can tell (an older one, run by
// hand to see the floor check refuse it, records nothing).
const loaded = [];
Module.registerHooks?.({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) loaded.push(url);
    return nextLoad(url, context);
  },
});

const out = process.argv[2];
const main = resolve(JSON.parse(readFileSync('package.json', 'utf8')).main);
// Node's own modules loaded before the package (the loader's), to tell which the load itself brings in.
const builtinsBefore = new Set(process.moduleLoadList);
const started = performance.now();
// CPU time (user + system, all threads) the load takes: less sensitive than wall time to what else the machine runs.
const cpuAtStart = process.cpuUsage();
const write = (extra) =>
  writeFileSync(
    out,
    JSON.stringify({
      registrations: core.registrations.map((r) => r.metadata),
      // Every folder a bare import from the entry point could be found in.
      lookupPaths: Module.createRequire(main).resolve.paths('any-package'),
      loaded,
      ...extra,
    }),
  );
/**
 * The console's page as the serveConsole function answers GET /api/console/ (status and content type): the
 * bundle must find its static files beside it. Called after the load is measured.
 */
async function consolePage() {
  const registration = core.registrations.find((r) => r.metadata.name === 'serveConsole');
  if (!registration) return undefined;
  const request = { url: 'http://localhost/api/console/', method: 'GET', params: { path: '' }, headers: new Headers(), query: new URLSearchParams() };
  const context = { log() {}, warn() {}, error() {}, invocationId: 'load-main', functionName: 'serveConsole' };
  const answer = await registration.handler(request, context);
  return { status: answer.status, contentType: answer.headers?.['Content-Type'] };
}

/**
 * GET /api/cronjobs/batch/nightly?cluster=first through the getCronJob function, three times, against an API server
 * on loopback that answers 404 NotFound: the first request is the first that needs the Kubernetes client, so it
 * pays for loading it; the others find it loaded. Each one's duration and status, the API server's count of
 * requests, and the files read by the first request (none by the later ones).
 */
async function firstRequests() {
  const http = require('node:http');
  let served = 0;
  const server = http.createServer((request, response) => {
    served += 1;
    response.writeHead(404, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'cronjobs.batch "nightly" not found' }));
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const server_ = `http://127.0.0.1:${server.address().port}`;
  writeFileSync(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback: client-node takes an http:// server only with TLS verification off.
      clusters: [{ name: 'first', cluster: { server: server_, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'first', user: { token: 'first-request' } }],
      contexts: [{ name: 'first', context: { cluster: 'first', user: 'first' } }],
      'current-context': 'first',
    }),
  );
  const registration = core.registrations.find((r) => r.metadata.name === 'getCronJob');
  const context = { log() {}, warn() {}, error() {}, invocationId: 'load-main', functionName: 'getCronJob' };
  const requests = [];
  for (let i = 0; i < 3; i++) {
    const readBefore = loaded.length;
    const request = {
      url: 'http://localhost/api/cronjobs/batch/nightly?cluster=first',
      method: 'GET',
      params: { namespace: 'batch', name: 'nightly' },
      headers: new Headers(),
      query: new URLSearchParams('cluster=first'),
    };
    const began = performance.now();
    const answer = await registration.handler(request, context);
    requests.push({ ms: performance.now() - began, status: answer.status, title: answer.jsonBody?.title, read: loaded.slice(readBefore) });
  }
  server.close();
  return { requests, served };
}

import(pathToFileURL(main).href).then(
  async () => {
    const loadMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuAtStart);
    const loadCpuMs = (cpu.user + cpu.system) / 1000;
    const rssBytes = process.memoryUsage().rss;
    // Node's built-in modules the load brought in (internal ones included: Node's fetch is internal/deps/undici/undici).
    const builtins = process.moduleLoadList.filter((m) => !builtinsBefore.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    const extra = firstRequest ? { firstRequest: await firstRequests(), rssAfterRequestsBytes: process.memoryUsage().rss } : {};
    write({ loadMs, loadCpuMs, rssBytes, builtins, console: await consolePage(), ...extra });
    process.exit(0);
  },
  (error) => {
    write({ error: String(error?.message ?? error) });
    console.error(error);
    process.exit(1);
  },
);
