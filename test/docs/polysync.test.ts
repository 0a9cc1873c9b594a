import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { captureRegistrations, type Registration } from '../../local/host/registrations.js';
import { loadConfig } from '../../src/config.js';
import { createServices, setServices } from '../../src/services.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let registrations: Registration[];

beforeAll(async () => {
  registrations = captureRegistrations();
  setServices(createServices(loadConfig({ CLUSTERS: JSON.stringify([{ alias: 'dev', type: 'kubeconfig', kubeconfigPath: '/x', namespaces: ['batch'] }]) })));
  await import('../../src/index.js');
});

describe('docs/callers.md, Polysync section', () => {
  it('gives the exact External Id and method of every HTTP function, as Polysync imports it (name/route)', () => {
    const readme = readFileSync(join(root, 'docs', 'callers.md'), 'utf8');
    const http = registrations.flatMap((r) => {
      const trigger = Object.values(r.metadata.bindings).find((b) => b.type === 'httpTrigger');
      return trigger ? [{ id: `${r.metadata.name}/${String(trigger.route)}`, methods: trigger.methods as string[] }] : [];
    });
    expect(http.length).toBeGreaterThan(0);
    for (const { id, methods } of http) expect(readme, id).toContain(`| \`${id}\` | ${methods.join(', ')} |`);
  });
});
