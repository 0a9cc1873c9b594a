import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

import { toKubeApiError } from '../../src/clients/kube.js';
import { HEAVY_PACKAGES, load, loadedAlready } from '../../src/clients/lazy.js';
import { KubeApiError } from '../../src/core/errors.js';

const RULE = '@typescript-eslint/no-restricted-imports';

/** The rule's setting the repository's eslint.config.js gives a file (computed, nothing parsed). */
async function ruleFor(filePath: string, rule = RULE): Promise<unknown> {
  const config = (await new ESLint({ cwd: process.cwd() }).calculateConfigForFile(filePath)) as { rules?: Record<string, unknown> };
  return config.rules?.[rule];
}

describe('heavy clients load through src/clients/lazy.ts', () => {
  it('the eslint rule refuses a value import of exactly the packages lazy.ts loads, in src/ but lazy.ts and sdk/', async () => {
    const setting = (await ruleFor('src/runs/example.ts')) as [unknown, { patterns: { group: string[]; allowTypeImports: boolean }[] }];
    expect(setting[1].patterns.map((p) => p.group[0]).sort()).toEqual([...HEAVY_PACKAGES].sort());
    for (const p of setting[1].patterns) expect(p.allowTypeImports).toBe(true);
    expect(await ruleFor('src/clients/lazy.ts')).toBeUndefined();
    expect(await ruleFor('src/clients/sdk/client-node.ts')).toBeUndefined();
    expect(await ruleFor('test/clients/example.ts')).toBeUndefined();
  });

  it('eslint refuses a value import of a heavy package and accepts its types', async () => {
    // The repository's rule alone, without type information: it needs none, and the typed rules are slow to start.
    const setting = (await ruleFor('src/runs/example.ts')) as Linter.RuleEntry;
    const eslint = new ESLint({
      cwd: process.cwd(),
      overrideConfigFile: true,
      overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { '@typescript-eslint': tseslint.plugin }, rules: { [RULE]: setting } }],
    });
    const lint = async (code: string) => (await eslint.lintText(code, { filePath: 'src/runs/example.ts' })).flatMap((r) => r.messages).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
    for (const name of HEAVY_PACKAGES) {
      const refused = await lint(`import * as sdk from '${name}';\nexport const x = sdk;\n`);
      expect(refused.join('\n'), name).toContain(`load('${name}') from src/clients/lazy.ts`);
      expect(await lint(`export { x } from '${name}';\n`), name).toHaveLength(1);
    }
    expect(await lint("import type { V1Job } from '@kubernetes/client-node';\nexport type J = V1Job;\n")).toEqual([]);
    expect(await lint("import { type V1Job } from '@kubernetes/client-node';\nexport type J = V1Job;\n")).toEqual([]);
  });

  it("eslint refuses zod's named export z in src/, and accepts its namespace import and z's types", async () => {
    // The named export keeps all of zod in the bundle read at start; the namespace import lets esbuild shake it.
    const setting = (await ruleFor('src/runs/example.ts', 'no-restricted-syntax')) as Linter.RuleEntry;
    const eslint = new ESLint({
      cwd: process.cwd(),
      overrideConfigFile: true,
      overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, rules: { 'no-restricted-syntax': setting } }],
    });
    const lint = async (code: string) => (await eslint.lintText(code, { filePath: 'src/runs/example.ts' })).flatMap((r) => r.messages).map((m) => m.message);
    expect((await lint("import { z } from 'zod';\nexport const s = z.string();\n")).join('\n')).toContain("import * as z from 'zod'");
    expect(await lint("import { string, z as zod } from 'zod';\nexport const s = [string, zod];\n")).toHaveLength(1);
    expect(await lint("import * as z from 'zod';\nexport const s = z.string();\n")).toEqual([]);
    expect(await lint("import type { z } from 'zod';\nexport type S = z.ZodString;\n")).toEqual([]);
    expect(await lint("import { type z } from 'zod';\nexport type S = z.ZodString;\n")).toEqual([]);
  });

  it('before client-node is loaded, telling errors apart does not load it', () => {
    expect(loadedAlready('@kubernetes/client-node')).toBeUndefined();
    expect(toKubeApiError('read Job batch/x', new Error('connect ECONNREFUSED'))).toMatchObject({ code: 0 });
    expect(loadedAlready('@kubernetes/client-node')).toBeUndefined();
  });

  it('loads a package once, for every caller, and the loaded module is what a static import gives', async () => {
    const [a, b] = await Promise.all([load('@kubernetes/client-node'), load('@kubernetes/client-node')]);
    expect(a).toBe(b);
    expect(await load('@kubernetes/client-node')).toBe(a);
    expect(loadedAlready('@kubernetes/client-node')).toBe(a);
    const staticModule = await import('@kubernetes/client-node');
    expect(a.KubeConfig).toBe(staticModule.KubeConfig);
  });

  it("client-node's ApiException becomes a KubeApiError with its status and reason once client-node is loaded", async () => {
    const { ApiException } = await load('@kubernetes/client-node');
    const error = toKubeApiError('read Job batch/x', new ApiException(404, 'Not Found', { reason: 'NotFound', message: 'jobs "x" not found' }, {}));
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ code: 404, kubeReason: 'NotFound' });
  });
});
