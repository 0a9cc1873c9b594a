import eslint from '@eslint/js';
import simpleImportSort from 'eslint-plugin-simple-import-sort';
import tseslint from 'typescript-eslint';

/**
 * Loaded on first use through src/clients/lazy.ts, never imported for their values anywhere else in src/ (types
 * are fine): a static import would put them back on every cold start. The same list as lazy.ts's HEAVY_PACKAGES
 * (test/clients/lazy.test.ts compares them).
 */
export const heavyPackages = ['@kubernetes/client-node', '@azure/identity', '@azure/arm-containerservice', '@azure/storage-blob', '@azure/eventgrid', 'durable-functions'];

/**
 * What the app's modules may import, for a short cold start. Heavy clients: their types anywhere, their values only
 * through lazy.ts's load() (src/clients/sdk/ re-exports them for it). zod: as a namespace import.
 */
export const lazyClients = {
  files: ['src/**/*.ts'],
  ignores: ['src/clients/lazy.ts', 'src/clients/sdk/*.ts'],
  rules: {
    // zod's named export `z` is a namespace object the bundler must build whole, with every schema kind in it;
    // `import * as z from 'zod'` lets it keep only what the app uses (docs/decisions.md, issue 25).
    'no-restricted-syntax': [
      'error',
      {
        selector: "ImportDeclaration[source.value='zod'][importKind!='type'] > ImportSpecifier[imported.name='z'][importKind!='type']",
        message: "import * as z from 'zod': the named export z is a namespace object that keeps all of zod in the bundle read at every cold start.",
      },
    ],
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: heavyPackages.map((name) => ({
          group: [name, `${name}/*`],
          allowTypeImports: true,
          message: `${name} is a heavy client: import its types only, and its values with load('${name}') from src/clients/lazy.ts, so that it is read on first use, not at every cold start.`,
        })),
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.package/**', '.local-runtime/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      eqeqeq: ['error', 'always'],
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      // client-node declares its models as classes, but the API hands back and takes plain JSON objects.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  lazyClients,
  {
    files: ['**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
