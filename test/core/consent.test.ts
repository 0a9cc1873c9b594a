import type { V1EnvVar, V1ObjectMeta } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import {
  ALLOW_ENV_ANNOTATION,
  assertEnvConsent,
  assertFallbackImage,
  assertRunnable,
  EnvNotAllowedError,
  FallbackNotAllowedError,
  type FallbackPolicy,
  isLoaderVariable,
  notRunnable,
  parseFallbackImages,
  RUNNABLE_ANNOTATION,
  SourceNotRunnableError,
} from '../../src/core/consent.js';

const env: V1EnvVar[] = [
  { name: 'BATCH_DATE', value: '2026-11-23' },
  { name: 'EMPTY' },
  { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
  { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
  { name: 'PATH', value: '/usr/local/bin:/usr/bin:/bin' },
];
const meta = (allowEnv?: string): V1ObjectMeta => ({ name: 'nightly', ...(allowEnv === undefined ? {} : { annotations: { [ALLOW_ENV_ANNOTATION]: allowEnv } }) });
const check = (overrides: Record<string, string>, allowEnv?: string) => () => {
  assertEnvConsent('Job', 'nightly', meta(allowEnv), env, overrides);
};

/** Every loader or interpreter variable the issue names, and a few more of each family. */
const LOADER_CASES = [
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'LD_AUDIT',
  'NODE_OPTIONS',
  'NODE_PATH',
  'BASH_ENV',
  'ENV',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'PERL5OPT',
  'PERL5LIB',
  'PYTHONSTARTUP',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONWARNINGS',
  'RUBYOPT',
  'RUBYLIB',
  'PATH',
  'GLIBC_TUNABLES',
  'BASH_FUNC_echo%%',
  'GIT_SSH_COMMAND',
  'DOTNET_STARTUP_HOOKS',
  'CORECLR_PROFILER_PATH',
  'OPENSSL_CONF',
  'HTTPS_PROXY',
  'https_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
];

describe('assertEnvConsent', () => {
  it.each<{ name: string; overrides: Record<string, string> }>([
    { name: 'a plain-valued declared name', overrides: { BATCH_DATE: '2026-12-01' } },
    { name: 'a declared name without a value', overrides: { EMPTY: 'now set' } },
    { name: 'no overrides at all', overrides: {} },
  ])('accepts $name without any annotation', ({ overrides }) => {
    expect(check(overrides)).not.toThrow();
  });

  it.each<{ name: string; overrides: Record<string, string>; says: string }>([
    { name: 'a new name', overrides: { DB_HOST: 'evil.example' }, says: '"DB_HOST" is not declared by Job "nightly"' },
    { name: 'a valueFrom (Secret) replacement', overrides: { DB_PASSWORD: 'x' }, says: '"DB_PASSWORD" takes its value from a Secret' },
    { name: 'a valueFrom (field) replacement', overrides: { NODE_NAME: 'x' }, says: '"NODE_NAME" takes its value from a Secret, ConfigMap or field' },
  ])('refuses $name without consent, with a 400 naming the variable and the annotation', ({ overrides, says }) => {
    const error = (() => {
      try {
        check(overrides)();
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EnvNotAllowedError);
    expect((error as EnvNotAllowedError).status).toBe(400);
    expect((error as EnvNotAllowedError).message).toContain(says);
    expect((error as EnvNotAllowedError).message).toContain(ALLOW_ENV_ANNOTATION);
  });

  it.each<{ name: string; overrides: Record<string, string>; allowEnv: string }>([
    { name: 'a new name listed by name', overrides: { DB_HOST: 'db2' }, allowEnv: 'DB_HOST' },
    { name: 'a valueFrom replacement listed by name', overrides: { DB_PASSWORD: 'x' }, allowEnv: 'OTHER, DB_PASSWORD' },
    { name: 'a new name under *', overrides: { DB_HOST: 'db2' }, allowEnv: '*' },
    { name: 'a valueFrom replacement under *', overrides: { DB_PASSWORD: 'x' }, allowEnv: '*' },
  ])('accepts $name', ({ overrides, allowEnv }) => {
    expect(check(overrides, allowEnv)).not.toThrow();
  });

  it.each(LOADER_CASES.map((name) => ({ name })))('refuses the loader variable $name without, and with "*", but not when named', ({ name }) => {
    expect(check({ [name]: 'x' })).toThrow(EnvNotAllowedError);
    expect(check({ [name]: 'x' }, '*')).toThrow(`"${name}" changes what code the run loads`);
    expect(check({ [name]: 'x' }, '*')).toThrow('"*" does not cover it');
    expect(check({ [name]: 'x' }, `*,${name}`)).not.toThrow();
  });

  it('refuses a declared plain-valued loader variable (PATH) unless named', () => {
    expect(check({ PATH: '/tmp/evil:/usr/bin' })).toThrow('"PATH" changes what code the run loads');
    expect(check({ PATH: '/opt/tool/bin:/usr/bin' }, 'PATH')).not.toThrow();
  });

  it('names every refused variable in one answer', () => {
    expect(check({ DB_HOST: 'x', LD_PRELOAD: '/tmp/x.so', BATCH_DATE: 'ok' })).toThrow(/"DB_HOST".*"LD_PRELOAD"/);
  });
});

describe('isLoaderVariable', () => {
  it.each([
    { name: 'BATCH_DATE', expected: false },
    { name: 'NODE_ENV', expected: false },
    { name: 'PYTHONUNBUFFERED', expected: false },
    { name: 'LD_BIND_NOW', expected: true },
    { name: 'ld_preload', expected: true },
    { name: 'Path', expected: true },
  ])('$name: $expected', ({ name, expected }) => {
    expect(isLoaderVariable(name)).toBe(expected);
  });
});

describe('assertRunnable / notRunnable', () => {
  const annotated = (value?: string): V1ObjectMeta => (value === undefined ? {} : { annotations: { [RUNNABLE_ANNOTATION]: value } });
  it.each([
    { name: 'no annotation, opt-out mode', value: undefined, optIn: false, runnable: true },
    { name: 'runnable "false", opt-out mode', value: 'false', optIn: false, runnable: false },
    { name: 'runnable "true", opt-out mode', value: 'true', optIn: false, runnable: true },
    { name: 'no annotation, opt-in mode', value: undefined, optIn: true, runnable: false },
    { name: 'runnable "yes", opt-in mode', value: 'yes', optIn: true, runnable: false },
    { name: 'runnable "true", opt-in mode', value: 'true', optIn: true, runnable: true },
    { name: 'runnable "false", opt-in mode', value: 'false', optIn: true, runnable: false },
  ])('$name: runnable $runnable', ({ value, optIn, runnable }) => {
    expect(notRunnable('CronJob', 'report', annotated(value), optIn) === undefined).toBe(runnable);
    const run = () => {
      assertRunnable('CronJob', 'report', annotated(value), optIn);
    };
    if (runnable) expect(run).not.toThrow();
    else {
      expect(run).toThrow(SourceNotRunnableError);
      expect(run).toThrow(RUNNABLE_ANNOTATION);
    }
  });

  it('answers 403 naming the annotation', () => {
    expect(new SourceNotRunnableError('x').status).toBe(403);
    expect(notRunnable('Job', 'nightly', annotated('false'), false)).toContain(`${RUNNABLE_ANNOTATION}: "false"`);
  });
});

describe('parseFallbackImages', () => {
  it('reads prefixes, repositories and digest requirements, separated by commas or spaces', () => {
    expect(parseFallbackImages(' myacr.azurecr.io/tools/, docker.io/library/busybox@sha256\nlocalhost:5000/x ')).toEqual([
      { prefix: 'myacr.azurecr.io/tools/', digest: false },
      { prefix: 'docker.io/library/busybox', digest: true },
      { prefix: 'localhost:5000/x', digest: false },
    ]);
    expect(parseFallbackImages('')).toEqual([]);
  });

  it.each(['busybox:latest', 'https://registry/x', 'Upper/Case', 'a b@x'])('refuses the entry %s', (entry) => {
    expect(() => parseFallbackImages(entry)).toThrow('is not an image prefix');
  });
});

describe('assertFallbackImage', () => {
  const DIGEST = `sha256:${'a'.repeat(64)}`;
  const policy = (images: string): FallbackPolicy => ({
    images: parseFallbackImages(images),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    runAsUser: 65532,
  });

  it('refuses every image while fallback runs are off, saying how to turn them on', () => {
    expect(() => {
      assertFallbackImage(policy(''), 'docker.io/library/busybox:1.36');
    }).toThrow(FallbackNotAllowedError);
    expect(() => {
      assertFallbackImage(policy(''), 'docker.io/library/busybox:1.36');
    }).toThrow('FALLBACK_IMAGES');
  });

  it.each([
    { name: 'a repository under an allowed path', rules: 'myacr.azurecr.io/tools/', image: 'myacr.azurecr.io/tools/curl:8', allowed: true },
    { name: 'a deeper repository under an allowed path', rules: 'myacr.azurecr.io/tools/', image: 'myacr.azurecr.io/tools/a/b@' + DIGEST, allowed: true },
    { name: 'the path itself', rules: 'myacr.azurecr.io/tools/', image: 'myacr.azurecr.io/tools/', allowed: false },
    { name: 'a look-alike registry', rules: 'myacr.azurecr.io/tools/', image: 'myacr.azurecr.io.evil.example/tools/curl', allowed: false },
    { name: 'another path', rules: 'myacr.azurecr.io/tools/', image: 'myacr.azurecr.io/other/curl', allowed: false },
    { name: 'an allowed repository with a tag', rules: 'docker.io/library/busybox', image: 'docker.io/library/busybox:1.36', allowed: true },
    { name: 'a repository that only starts like an allowed one', rules: 'docker.io/library/busybox', image: 'docker.io/library/busybox-evil:1', allowed: false },
    { name: 'a short name for an allowed full name', rules: 'docker.io/library/busybox', image: 'busybox:1.36', allowed: false },
    { name: 'a digest where one is required', rules: 'docker.io/library/busybox@sha256', image: `docker.io/library/busybox@${DIGEST}`, allowed: true },
    { name: 'a tag and digest where one is required', rules: 'docker.io/library/busybox@sha256', image: `docker.io/library/busybox:1.36@${DIGEST}`, allowed: true },
    { name: 'a tag where a digest is required', rules: 'docker.io/library/busybox@sha256', image: 'docker.io/library/busybox:1.36', allowed: false },
    { name: 'a malformed digest', rules: 'docker.io/library/busybox@sha256', image: 'docker.io/library/busybox@sha256:abc', allowed: false },
    { name: 'a registry with a port', rules: 'localhost:5000/', image: 'localhost:5000/tool:1', allowed: true },
  ])('$name: allowed $allowed', ({ rules, image, allowed }) => {
    const run = () => {
      assertFallbackImage(policy(rules), image);
    };
    if (allowed) expect(run).not.toThrow();
    else expect(run).toThrow(`image "${image}" is not one this app may run`);
  });
});
