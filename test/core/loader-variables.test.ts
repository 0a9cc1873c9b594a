import type { V1EnvVar } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { ALLOW_ENV_ANNOTATION, assertEnvConsent, EnvNotAllowedError, isLoaderVariable } from '../../src/core/consent.js';

/**
 * The loader and interpreter variables, runtime by runtime, each table from that runtime's own documentation.
 * Every name must be refused under `allow-env: "*"` in any case (upper, lower, mixed), and accepted when the
 * annotation names it; the names after each table are ones a source may use for its own data, which stay free.
 */
interface Runtime {
  runtime: string;
  /** Where the runtime documents that it reads these variables. */
  documentation: string;
  names: string[];
}

const RUNTIMES: Runtime[] = [
  {
    runtime: 'npm (and pnpm)',
    // "Any environment variables that start with npm_config_ will be interpreted as a configuration parameter ...
    // Config values are case-insensitive, so NPM_CONFIG_FOO=bar will work the same."
    documentation: 'https://docs.npmjs.com/cli/using-npm/config#environment-variables (npm/cli docs/lib/content/using-npm/config.md)',
    names: ['npm_config_node_options', 'NPM_CONFIG_NODE_OPTIONS', 'NPM_CONFIG_SCRIPT_SHELL', 'npm_config_script_shell', 'NPM_CONFIG_REGISTRY', 'Npm_Config_Userconfig', 'npm_config_globalconfig', 'NPM_CONFIG_ONLOAD_SCRIPT'],
  },
  {
    runtime: 'Node.js',
    documentation: 'https://nodejs.org/api/cli.html#environment-variables',
    names: ['NODE_OPTIONS', 'node_options', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_REPL_EXTERNAL_MODULE'],
  },
  {
    runtime: 'OpenSSH and less (helper programs they run)',
    // ssh(1) ENVIRONMENT: SSH_ASKPASS names a program ssh executes for a passphrase (SSH_ASKPASS_REQUIRE=force
    // even with a terminal); less(1): LESSOPEN is the "command line to invoke the (optional) input-preprocessor",
    // LESSCLOSE its post-processor.
    documentation: 'https://man.openbsd.org/ssh#ENVIRONMENT; https://man7.org/linux/man-pages/man1/less.1.html (INPUT PREPROCESSOR)',
    names: ['SSH_ASKPASS', 'ssh_askpass', 'SSH_ASKPASS_REQUIRE', 'SSH_AUTH_SOCK', 'LESSOPEN', 'lessopen', 'LESSCLOSE', 'LESSKEYIN'],
  },
  {
    runtime: 'Maven, Tomcat and JVM launch scripts',
    // Maven: "MAVEN_OPTS ... parameters used to start up the JVM running Maven"; "MAVEN_ARGS ... arguments passed
    // to Maven before CLI arguments" (3.9+). Tomcat's catalina.sh: CATALINA_OPTS and JAVA_OPTS are "Java runtime
    // options"; JPDA_OPTS for the debugger.
    documentation: 'https://maven.apache.org/configure.html; apache/tomcat bin/catalina.sh ("Environment Variable Prerequisites") and RUNNING.txt',
    names: ['MAVEN_OPTS', 'maven_opts', 'MAVEN_ARGS', 'CATALINA_OPTS', 'JAVA_OPTS', 'JPDA_OPTS', 'GRADLE_OPTS', 'ANT_OPTS', 'CATALINA_BASE', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH'],
  },
  {
    runtime: '.NET and ASP.NET Core',
    // DOTNET_STARTUP_HOOKS loads assemblies before Main (dotnet/runtime docs/design/features/host-startup-hook.md);
    // "COMPlus_ prefix will continue to work" (dotnet/docs includes/complus-prefix.md); hosting startup assemblies
    // come from the host configuration key hostingStartupAssemblies, i.e. ASPNETCORE_HOSTINGSTARTUPASSEMBLIES.
    documentation: 'https://learn.microsoft.com/dotnet/core/runtime-config/debugging-profiling; https://learn.microsoft.com/aspnet/core/fundamentals/host/platform-specific-configuration',
    names: ['ASPNETCORE_HOSTINGSTARTUPASSEMBLIES', 'aspnetcore_hostingstartupassemblies', 'ASPNETCORE_HOSTINGSTARTUPEXCLUDEASSEMBLIES', 'DOTNET_STARTUP_HOOKS', 'DOTNET_ADDITIONAL_DEPS', 'COMPlus_EnableDiagnostics', 'CORECLR_PROFILER_PATH', 'COR_PROFILER'],
  },
  {
    runtime: 'Azure Identity and workload identity',
    // EnvironmentCredential reads AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_*,
    // AZURE_AUTHORITY_HOST; the workload identity webhook injects AZURE_AUTHORITY_HOST, AZURE_CLIENT_ID,
    // AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE; App Service / Arc managed identity reads IDENTITY_ENDPOINT and
    // IDENTITY_HEADER (MSI_ENDPOINT, MSI_SECRET before).
    documentation:
      'https://learn.microsoft.com/dotnet/api/azure.identity.environmentcredential; https://azure.github.io/azure-workload-identity/docs/installation/mutating-admission-webhook.html; https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference',
    names: ['AZURE_AUTHORITY_HOST', 'azure_authority_host', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_CLIENT_CERTIFICATE_PATH', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'IMDS_ENDPOINT'],
  },
  {
    runtime: 'package indexes (pip, uv, npm, Yarn, Bundler, Cargo, Go)',
    // pip: every long option has an environment variable, PIP_<UPPER_NAME> (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL...);
    // uv: UV_INDEX_URL, UV_EXTRA_INDEX_URL, UV_DEFAULT_INDEX, UV_INDEX (uv's docs/reference/environment.md);
    // Go: GOPROXY, GOSUMDB, GONOSUMDB, GOTOOLCHAIN ('go help environment', go.env).
    documentation: 'https://pip.pypa.io/en/stable/topics/configuration/#environment-variables; https://docs.astral.sh/uv/reference/environment/; https://go.dev/ref/mod#environment-variables',
    names: ['PIP_INDEX_URL', 'pip_index_url', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST', 'UV_INDEX_URL', 'UV_EXTRA_INDEX_URL', 'UV_DEFAULT_INDEX', 'NPM_CONFIG_REGISTRY', 'YARN_NPM_REGISTRY_SERVER', 'BUNDLE_MIRROR__HTTPS://RUBYGEMS__ORG/', 'CARGO_REGISTRIES_CRATES_IO_PROTOCOL', 'GOPROXY', 'goproxy', 'GOSUMDB', 'GONOSUMDB', 'GOTOOLCHAIN', 'GOFLAGS', 'CGO_LDFLAGS'],
  },
  {
    runtime: 'Kubernetes service variables',
    // "For a service named foo ... FOO_SERVICE_HOST=<the host the service is running on>, FOO_SERVICE_PORT=<the
    // port the service is running on>", plus the Docker-link forms (REDIS_MASTER_PORT_6379_TCP_ADDR...);
    // client-go's in-cluster config dials KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT with the pod's token.
    documentation: 'https://kubernetes.io/docs/concepts/containers/container-environment/#cluster-information; https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables',
    names: ['KUBERNETES_SERVICE_HOST', 'kubernetes_service_host', 'KUBERNETES_SERVICE_PORT', 'KUBERNETES_SERVICE_PORT_HTTPS', 'KUBERNETES_PORT_443_TCP_ADDR', 'REDIS_MASTER_SERVICE_HOST', 'REDIS_MASTER_SERVICE_PORT', 'redis_master_service_port_metrics', 'REDIS_MASTER_PORT_6379_TCP', 'REDIS_MASTER_PORT_6379_TCP_ADDR', 'KUBECONFIG'],
  },
];

/** Names a job declares for its own data: none of them is a loader variable. */
const FREE_NAMES = ['BATCH_DATE', 'REPORT_DATE', 'DB_HOST', 'DB_PORT', 'NODE_ENV', 'PYTHONUNBUFFERED', 'AZURE_STORAGE_CONTAINER', 'SERVICE_NAME', 'GREETING', 'OPTIONS', 'JAVA_VERSION', 'GO_ENV'];

const check = (name: string, allowEnv: string) => () => {
  const env: V1EnvVar[] = [{ name, value: 'as declared' }];
  assertEnvConsent('Job', 'nightly', { annotations: { [ALLOW_ENV_ANNOTATION]: allowEnv } }, { env }, { [name]: 'x' });
};

describe.each(RUNTIMES)('loader variables of $runtime, as $documentation documents them', ({ names }) => {
  it.each(names)('%s is refused under "*", even declared, and accepted when named', (name) => {
    expect(isLoaderVariable(name)).toBe(true);
    expect(check(name, '*')).toThrow(EnvNotAllowedError);
    expect(check(name, '*')).toThrow(`"${name}" changes what code the run loads`);
    expect(check(name, `*,${name}`)).not.toThrow();
  });
});

describe('names a job uses for its own data', () => {
  it.each(FREE_NAMES)('%s is not a loader variable, and "*" covers it', (name) => {
    expect(isLoaderVariable(name)).toBe(false);
    expect(check(name, '*')).not.toThrow();
  });
});
