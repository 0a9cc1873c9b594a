// Run by test/package and bench/cold-start in a fresh Node with a deployment package as its working folder:
// loads package.json `main` from there, as the Functions worker does, and writes what it registered, the files
// it loaded and what that took to the file named by the first argument. A second argument `node=<version>`
// makes the process report that Node.js release, to try the entry point's floor check.
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
const { resolve } = require('node:path');
const { pathToFileURL } = require('node:url');

const core = require(resolve(__dirname, '../../local/host/functions-core.cjs'));
Module.prototype.require = new Proxy(Module.prototype.require, {
  apply(target, thisArg, args) {
    return args[0] === '@azure/functions-core' ? core : Reflect.apply(target, thisArg, args);
  },
});

const pretend = process.argv.slice(3).find((arg) => arg.startsWith('node='));
if (pretend) Object.defineProperty(process.versions, 'node', { value: pretend.slice('node='.length) });

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
const started = performance.now();
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

import(pathToFileURL(main).href).then(
  async () => {
    const loadMs = performance.now() - started;
    const rssBytes = process.memoryUsage().rss;
    write({ loadMs, rssBytes, console: await consolePage() });
    process.exit(0);
  },
  (error) => {
    write({ error: String(error?.message ?? error) });
    console.error(error);
    process.exit(1);
  },
);
