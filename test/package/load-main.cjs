// Run by test/package in a fresh Node with the deployment package as its working folder: loads package.json
// `main` from there, as the Functions worker does, and writes what it registered to the file named by the
// first argument. Only the worker's own module (@azure/functions-core, which the host supplies) is replaced,
// by the local stand-in that records registrations; this file uses nothing but Node's built-in modules, so
// every other module comes from the package or nowhere.
'use strict';
/* global __dirname, console, process */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, so that Module._resolveFilename is ours before any import */
const Module = require('node:module');
const { readFileSync, writeFileSync } = require('node:fs');
const { resolve } = require('node:path');
const { pathToFileURL } = require('node:url');

const corePath = resolve(__dirname, '../../local/host/functions-core.cjs');
const core = require(corePath);
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === '@azure/functions-core' ? corePath : resolveFilename.call(this, request, ...rest);
};

const out = process.argv[2];
const main = resolve(JSON.parse(readFileSync('package.json', 'utf8')).main);
import(pathToFileURL(main).href).then(
  () => {
    writeFileSync(
      out,
      JSON.stringify({
        registrations: core.registrations.map((r) => r.metadata),
        // Every folder a bare import from the entry point could be found in.
        lookupPaths: Module.createRequire(main).resolve.paths('any-package'),
      }),
    );
    process.exit(0);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
