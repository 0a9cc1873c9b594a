/**
 * The modules scripts/package.ts puts in the bundle for each built-in the app imports (builtinsThroughRequire):
 * nothing is required until the app reads an export, and what it reads is the built-in's own.
 */
import { describe, expect, it } from 'vitest';

import { lazyBuiltin } from '../../scripts/package.js';

/** Evaluate the module's text as esbuild's CommonJS wrapper would, recording what it requires. */
function evaluate(name: string): { exports: Record<string, unknown>; required: string[] } {
  const required: string[] = [];
  const module = { exports: {} as Record<string, unknown> };
  const require = (id: string): unknown => {
    required.push(id);
    return process.getBuiltinModule(id);
  };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the generated module's own text, run as the bundle runs it
  const run = new Function('module', 'exports', 'require', lazyBuiltin(name)) as (m: typeof module, e: typeof module.exports, r: typeof require) => void;
  run(module, module.exports, require);
  return { exports: module.exports, required };
}

describe('a built-in the app imports is required on first use', () => {
  it('lists every name of the built-in and requires nothing while esbuild copies them into the importing module', () => {
    const { exports, required } = evaluate('node:https');
    const https = process.getBuiltinModule('node:https') as Record<string, unknown>;
    expect(Object.keys(exports).sort()).toEqual(Object.getOwnPropertyNames(https).filter((k) => k !== 'default').sort());
    // What esbuild's __toESM/__copyProps do: list the names and their descriptors, read no value.
    for (const key of Object.getOwnPropertyNames(exports)) Object.getOwnPropertyDescriptor(exports, key);
    expect(required).toEqual([]);
  });

  it("gives the built-in's own values, requiring it once, and writes through to it", () => {
    const { exports, required } = evaluate('node:dns');
    const dns = process.getBuiltinModule('node:dns') as Record<string, unknown>;
    expect(exports.lookup).toBe(dns.lookup);
    expect(exports.promises).toBe(dns.promises);
    expect(required).toEqual(['node:dns']);
  });

  it("writes through to the built-in's own property", () => {
    const { exports } = evaluate('node:https');
    const https = process.getBuiltinModule('node:https') as Record<string, unknown>;
    const agent = https.globalAgent;
    const other = {};
    try {
      exports.globalAgent = other;
      expect(https.globalAgent).toBe(other);
    } finally {
      https.globalAgent = agent;
    }
  });

  it('refuses a name that is not a built-in', () => {
    expect(() => lazyBuiltin('left-pad')).toThrow(/not one of Node's built-in modules/);
  });
});
