import type { V1EnvVar, V1ObjectMeta, V1PodTemplateSpec } from '@kubernetes/client-node';

import { AppError } from './errors.js';
import { commandReferences } from './expansion.js';
import { LABEL_PREFIX } from './labels.js';
import type { SourceKind } from './naming.js';

/**
 * What the owner of a source lets callers do with it, and what the operator lets fallback runs be. A function key
 * (or an Entra token) is a key to the app, not to the cluster: a run does only what the source's author and the
 * operator allowed, whatever the caller sends.
 */

/** On a source Job or CronJob: `"false"` keeps it out of the app; with SOURCES_OPT_IN, `"true"` lets it in. */
export const RUNNABLE_ANNOTATION = `${LABEL_PREFIX}runnable`;
/**
 * On a source Job or CronJob: env names callers may set beyond the plain-valued ones it declares, comma-separated,
 * or `*` for any name. Loader and interpreter variables, and names the container's command or args substitute as
 * `$(NAME)`, must be listed by name; `*` does not cover them.
 */
export const ALLOW_ENV_ANNOTATION = `${LABEL_PREFIX}allow-env`;

/**
 * Variables that make a program load or run code, or trust or route traffic, other than what its image says:
 * dynamic loaders, shells' start-up files and imported functions, language runtimes' option and module-path
 * variables, profilers and start-up hooks, helper programs tools run, TLS trust, proxies and package indexes
 * (which hand the run's credentials or its code to whoever the caller names), the identity SDKs' settings, and
 * where in-cluster clients find the API server and Services. Matched without regard to case, since some
 * programs read both spellings (`http_proxy`, npm's `npm_config_*`). Each family cites the runtime's own
 * documentation in test/core/loader-variables.test.ts.
 */
export const LOADER_VARIABLES: readonly string[] = [
  // glibc's loader and its helpers (GLIBC_TUNABLES: CVE-2023-4911; GCONV_PATH loads iconv modules).
  'GLIBC_TUNABLES', 'GCONV_PATH', 'LOCPATH', 'NLSPATH', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'MALLOC_CONF',
  // Shells: start-up files, options, prompts and field splitting that a script's commands obey.
  'BASH_ENV', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'IFS', 'CDPATH', 'ZDOTDIR', 'HOME', 'PATH',
  'SHELL', 'EDITOR', 'VISUAL', 'PAGER', 'BROWSER', 'MANPAGER',
  // Helper programs other tools run: ssh's passphrase program, less's input pre- and post-processors and key files.
  'SSH_ASKPASS', 'SSH_ASKPASS_REQUIRE', 'SSH_AUTH_SOCK', 'LESSOPEN', 'LESSCLOSE', 'LESSKEY', 'LESSKEYIN', 'LESSKEY_CONTENT', 'LESSEDIT',
  // Node.js (npm's own configuration is NPM_CONFIG_*, below).
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_REPL_EXTERNAL_MODULE',
  'NODE_ICU_DATA', 'NODE_PENDING_DEPRECATION', 'NODE_USE_ENV_PROXY',
  // Python (PYTHONWARNINGS imports its category's module; PYTHONBREAKPOINT names a callable).
  'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONINSPECT', 'PYTHONBREAKPOINT', 'PYTHONWARNINGS',
  'PYTHONUSERBASE', 'PYTHONPLATLIBDIR', 'PYTHONEXECUTABLE', 'PYTHONNOUSERSITE', 'PYTHONSAFEPATH',
  // Perl.
  'PERL5OPT', 'PERL5LIB', 'PERLLIB', 'PERL5DB', 'PERL_MB_OPT', 'PERL_MM_OPT',
  // Ruby.
  'RUBYOPT', 'RUBYLIB', 'GEM_HOME', 'GEM_PATH', 'BUNDLE_GEMFILE',
  // JVM, and the launch scripts of Maven (MAVEN_ARGS since 3.9), Tomcat, Gradle and Ant (every *_OPTS, below).
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'JAVA_OPTIONS', 'CLASSPATH', 'JAVA_HOME', 'JRE_HOME',
  'MAVEN_ARGS', 'MAVEN_HOME', 'M2_HOME', 'CATALINA_HOME', 'CATALINA_BASE', 'CATALINA_TMPDIR', 'GRADLE_USER_HOME',
  // PHP, Lua, Tcl, R.
  'PHPRC', 'PHP_INI_SCAN_DIR', 'LUA_INIT', 'LUA_PATH', 'LUA_CPATH', 'TCLLIBPATH', 'R_PROFILE', 'R_PROFILE_USER',
  'R_ENVIRON', 'R_ENVIRON_USER', 'R_LIBS', 'R_LIBS_USER',
  // Go: flags, paths, where modules and toolchains are downloaded from and whether they are checked.
  'GOFLAGS', 'GOPATH', 'GOROOT', 'GOPROXY', 'GONOPROXY', 'GOPRIVATE', 'GOSUMDB', 'GONOSUMDB', 'GONOSUMCHECK',
  'GOINSECURE', 'GOTOOLCHAIN', 'GOENV', 'GOVCS', 'GOAUTH', 'GOCACHEPROG', 'GOEXPERIMENT',
  // Rust's compiler wrappers and flags.
  'RUSTC', 'RUSTC_WRAPPER', 'RUSTC_WORKSPACE_WRAPPER', 'RUSTFLAGS', 'RUSTDOCFLAGS',
  // TLS trust, key logs and OpenSSL's config (which loads engines and providers).
  'OPENSSL_CONF', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'SSLKEYLOGFILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE',
  'CURL_HOME', 'WGETRC', 'KRB5_CONFIG', 'KRB5CCNAME',
  // Proxies: where the run's requests, with their credentials, go.
  'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'FTP_PROXY',
  // Where temporary files and the run's own config live.
  'TMPDIR', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CONFIG_DIRS',
  // Azure Identity's EnvironmentCredential and the workload identity webhook's variables: which identity, tenant
  // and authority a token is asked of, and from which file; managed identity's endpoints. Another value sends
  // the pod's federated token, or its token requests, where the caller says.
  'AZURE_AUTHORITY_HOST', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD', 'AZURE_CLIENT_SEND_CERTIFICATE_CHAIN', 'AZURE_USERNAME', 'AZURE_PASSWORD',
  'AZURE_FEDERATED_TOKEN_FILE', 'AZURE_FEDERATED_TOKEN', 'AZURE_ADDITIONALLY_ALLOWED_TENANTS', 'AZURE_TOKEN_CREDENTIALS',
  'AZURE_POD_IDENTITY_AUTHORITY_HOST', 'AZURE_REGIONAL_AUTHORITY_NAME', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER',
  'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'MSI_SECRET', 'IDENTITY_SECRET',
  // Kubernetes: the API server in-cluster clients call with the pod's token (client-go's rest.InClusterConfig),
  // and a kubeconfig to read instead. Every Service's *_SERVICE_HOST / *_SERVICE_PORT is matched below.
  'KUBECONFIG',
];

/**
 * Prefixes of whole families: every `LD_*` is the dynamic loader's (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT...),
 * `BASH_FUNC_*` are functions bash imports (Shellshock's vector), `GIT_*` include GIT_SSH_COMMAND and
 * GIT_CONFIG_*, .NET's start-up hooks and profilers live under `DOTNET_`, `COMPLUS_` (its older spelling),
 * `CORECLR_` and `COR_`, ASP.NET Core reads its host settings (hosting start-up assemblies among them) from
 * `ASPNETCORE_`, OpenSSL loads modules from `OPENSSL_*` paths. Package managers take every option from the
 * environment: npm and pnpm from `npm_config_*` in any case (`npm_config_node_options` becomes NODE_OPTIONS in
 * scripts, `npm_config_script_shell` runs them), pip from `PIP_*`, uv from `UV_*`, Yarn from `YARN_*`, Bundler from
 * `BUNDLE_*`, Cargo from `CARGO_*`, cgo from `CGO_*` (CGO_CFLAGS, CGO_LDFLAGS). `KUBERNETES_*` is where
 * in-cluster clients find the API server.
 */
export const LOADER_PREFIXES: readonly string[] = [
  'LD_', 'DYLD_', 'BASH_FUNC_', 'GIT_', 'DOTNET_', 'COMPLUS_', 'CORECLR_', 'COR_', 'ASPNETCORE_', 'OPENSSL_',
  'NPM_CONFIG_', 'PIP_', 'UV_', 'YARN_', 'BUNDLE_', 'CARGO_', 'CGO_', 'KUBERNETES_',
];

/**
 * Suffixes of whole families: `*_OPTS` is the launch scripts' way to pass JVM options (MAVEN_OPTS, CATALINA_OPTS,
 * JAVA_OPTS, GRADLE_OPTS, ANT_OPTS, JPDA_OPTS, KAFKA_OPTS...), which load agents (`-javaagent:`); `*_SERVICE_HOST`
 * and `*_SERVICE_PORT` (and its named `*_SERVICE_PORT_<NAME>`) are where a program finds a Service when the kubelet
 * sets them, so another value sends its requests, and credentials, elsewhere.
 */
export const LOADER_SUFFIXES: readonly string[] = ['_OPTS', '_SERVICE_HOST', '_SERVICE_PORT'];

/** The kubelet's Docker-link variables for a Service: `<SVC>_PORT_<port>_<TCP|UDP|SCTP>[_PROTO|_PORT|_ADDR]`, and `_SERVICE_PORT_<NAME>`. */
const SERVICE_LINK = /(_PORT_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?|_SERVICE_PORT_.+)$/;

const LOADER_SET = new Set(LOADER_VARIABLES.map((name) => name.toUpperCase()));

/** Is this a variable that changes what code runs, which only a source that names it may let callers set? */
export function isLoaderVariable(name: string): boolean {
  const upper = name.toUpperCase();
  return (
    LOADER_SET.has(upper) ||
    LOADER_PREFIXES.some((prefix) => upper.startsWith(prefix)) ||
    LOADER_SUFFIXES.some((suffix) => upper.endsWith(suffix)) ||
    SERVICE_LINK.test(upper)
  );
}

/** Operator settings a run is built under; the same at the start route and in the submit activity. */
export interface RunPolicy {
  /** Only sources annotated `runnable: "true"` run. */
  readonly sourcesOptIn: boolean;
  /** The Job's activeDeadlineSeconds when its source sets none. */
  readonly jobActiveDeadlineSeconds: number;
  readonly fallback: FallbackPolicy;
}

export interface FallbackPolicy {
  /** Images a fallback run may use; empty: fallback runs are off. */
  readonly images: readonly ImageRule[];
  readonly resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  /** The non-root user (and group) a fallback pod runs as when its image names none. */
  readonly runAsUser: number;
}

/** The entries of a list setting: separated by commas or white space, empty ones ignored. */
function listEntries(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry !== '');
}

/** One FALLBACK_IMAGES entry: a repository, or every repository under a path ending in `/`. */
export interface ImageRule {
  readonly prefix: string;
  /** The image must be pinned by digest (`@sha256:<64 hex>`), so a tag moved later cannot change what runs. */
  readonly digest: boolean;
}

/**
 * FALLBACK_IMAGES: entries separated by commas or white space. `myacr.azurecr.io/tools/` allows every repository
 * under that path, `myacr.azurecr.io/tools/curl` that repository with any tag, and a trailing `@sha256` requires a
 * digest (`docker.io/library/busybox@sha256`).
 */
export function parseFallbackImages(text: string): ImageRule[] {
  return listEntries(text).map((entry) => {
    const digest = entry.endsWith('@sha256');
    const prefix = digest ? entry.slice(0, -'@sha256'.length) : entry;
    // A colon after the last slash would be a tag: entries name repositories, tags are the caller's.
    const tagged = prefix.indexOf(':', prefix.lastIndexOf('/') + 1) >= 0;
    if (!/^[a-z0-9][a-z0-9._:/-]*$/.test(prefix) || prefix.includes('//') || tagged) {
      throw new Error(
        `"${entry}" is not an image prefix: write a registry/repository path such as myacr.azurecr.io/tools/ or docker.io/library/busybox, optionally followed by @sha256 to require a digest`,
      );
    }
    return { prefix, digest };
  });
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The repository of an image reference (registry and path, without tag or digest) and its digest. */
function imageParts(image: string): { repository: string; digest: string | undefined } {
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  // A tag's colon comes after the last slash; a registry's port comes before it.
  const colon = name.indexOf(':', name.lastIndexOf('/') + 1);
  return { repository: colon >= 0 ? name.slice(0, colon) : name, digest };
}

function ruleMatches(rule: ImageRule, image: string): boolean {
  const { repository, digest } = imageParts(image);
  const inPath = rule.prefix.endsWith('/') ? repository.startsWith(rule.prefix) && repository.length > rule.prefix.length : repository === rule.prefix;
  return inPath && (!rule.digest || (digest !== undefined && DIGEST.test(digest)));
}

/** A fallback image the operator allows, or a 403 that says how fallback runs are allowed. */
export function assertFallbackImage(policy: FallbackPolicy, image: string): void {
  if (policy.images.length === 0) {
    throw new FallbackNotAllowedError(
      'runs from an image (image, command, args in the query) are off in this app; run an existing Job, or an operator allows images in the FALLBACK_IMAGES app setting (registry/repository prefixes)',
    );
  }
  if (/\s/.test(image) || !policy.images.some((rule) => ruleMatches(rule, image))) {
    const pinned = policy.images.some((rule) => rule.digest) ? ' (some only pinned by digest, @sha256:...)' : '';
    throw new FallbackNotAllowedError(
      `image "${image}" is not one this app may run${pinned}; use an image under an allowed prefix, written as the FALLBACK_IMAGES app setting writes it (registry and repository in full, e.g. docker.io/library/busybox)`,
    );
  }
}

/** The operator has not allowed this fallback run. */
export class FallbackNotAllowedError extends AppError {
  override name = 'FallbackNotAllowedError';
  override readonly status = 403;
  override readonly reason = 'FallbackNotAllowed';
}

/** The source's owner keeps it out of the app, or has not let it in where sources must opt in. */
export class SourceNotRunnableError extends AppError {
  override name = 'SourceNotRunnableError';
  override readonly status = 403;
  override readonly reason = 'SourceNotRunnable';
}

/** An env override the source has not consented to. */
export class EnvNotAllowedError extends AppError {
  override name = 'EnvNotAllowedError';
  override readonly status = 400;
  override readonly reason = 'EnvNotAllowed';
}

/** Why a source cannot be run, or undefined when it can. Discovery shows the same answer the start route gives. */
export function notRunnable(kind: ManagedKind, name: string, meta: V1ObjectMeta | undefined, optIn: boolean): string | undefined {
  const value = meta?.annotations?.[RUNNABLE_ANNOTATION];
  if (value === 'false') return `${kind} "${name}" is kept out of this app by its annotation ${RUNNABLE_ANNOTATION}: "false"; its owner removes the annotation to allow runs`;
  if (optIn && value !== 'true') {
    return `${kind} "${name}" has not opted in to this app: sources run only with the annotation ${RUNNABLE_ANNOTATION}: "true" (SOURCES_OPT_IN is on); its owner adds it to allow runs`;
  }
  return undefined;
}

export function assertRunnable(kind: ManagedKind, name: string, meta: V1ObjectMeta | undefined, optIn: boolean): void {
  const why = notRunnable(kind, name, meta, optIn);
  if (why) throw new SourceNotRunnableError(why);
}

/** The names a source's allow-env annotation lists, and whether it says `*`. */
function allowedNames(meta: V1ObjectMeta | undefined): { names: Set<string>; any: boolean } {
  const listed = (meta?.annotations?.[ALLOW_ENV_ANNOTATION] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return { names: new Set(listed.filter((name) => name !== '*')), any: listed.includes('*') };
}

/** The part of a container an env override's consent depends on: what it declares, and what it runs. */
export interface ConsentContainer {
  readonly env?: readonly V1EnvVar[] | undefined;
  /** The source author's command and args; leave out a field the caller wrote itself (its references are its own). */
  readonly command?: readonly string[] | undefined;
  readonly args?: readonly string[] | undefined;
}

/**
 * Refuses every override the source has not consented to. By default a caller may set only the names that the
 * container declares with a plain `value` (what discovery lists as params). A new name, or one that replaces a
 * `valueFrom` entry (which would redirect a credential), needs the source's allow-env annotation to name it or say
 * `*`. Two kinds need the annotation to name them, declared or not, `*` notwithstanding: loader and interpreter
 * variables, and names the kubelet substitutes into the container's command or args as `$(NAME)` (a value there
 * is not data but part of what runs: in `sh -c "echo $(REPORT_DATE)"` it is shell code).
 */
export function assertEnvConsent(
  kind: ManagedKind,
  name: string,
  meta: V1ObjectMeta | undefined,
  container: ConsentContainer | undefined,
  overrides: Readonly<Record<string, string>>,
): void {
  const plain = new Set<string>();
  const referenced = new Set<string>();
  for (const entry of container?.env ?? []) (entry.valueFrom ? referenced : plain).add(entry.name);
  const inCommand = commandReferences(container ?? {});
  const allowed = allowedNames(meta);
  const refusals: string[] = [];
  for (const variable of Object.keys(overrides)) {
    if (allowed.names.has(variable)) continue;
    if (isLoaderVariable(variable)) {
      refusals.push(
        `"${variable}" changes what code the run loads, so ${kind} "${name}" must name it in its annotation ${ALLOW_ENV_ANNOTATION} ("*" does not cover it)`,
      );
    } else if (inCommand.has(variable)) {
      refusals.push(
        `"${variable}" is substituted into the command or args of ${kind} "${name}" as $(${variable}), where a value becomes part of what runs, so ${kind} "${name}" must name it in its annotation ${ALLOW_ENV_ANNOTATION} ("*" does not cover it)`,
      );
    } else if (allowed.any) {
      continue;
    } else if (referenced.has(variable)) {
      refusals.push(
        `"${variable}" takes its value from a Secret, ConfigMap or field in ${kind} "${name}" and is not replaced unless the source lists it in its annotation ${ALLOW_ENV_ANNOTATION}`,
      );
    } else if (!plain.has(variable)) {
      refusals.push(
        `"${variable}" is not declared by ${kind} "${name}" (only its plain env values can be set) and its annotation ${ALLOW_ENV_ANNOTATION} does not list it`,
      );
    }
  }
  if (refusals.length > 0) {
    throw new EnvNotAllowedError(
      `environment variable ${refusals.join('; ')}. Send only the parameters discovery lists, or the source's owner adds the names to ${ALLOW_ENV_ANNOTATION}, e.g. ${ALLOW_ENV_ANNOTATION}: "NAME1,NAME2"`,
    );
  }
}

/** The names a caller may not set on this source's container although it declares them: those its command substitutes, unless allow-env names them. */
export function commandParams(meta: V1ObjectMeta | undefined, container: ConsentContainer | undefined): string[] {
  const allowed = allowedNames(meta);
  return [...commandReferences(container ?? {})].filter((name) => !allowed.names.has(name)).sort();
}

/**
 * Everything the source and the operator must allow for this run: the source is runnable, its env consents to
 * the overrides, and a fallback run's image is allowed. `meta` and `template` are the source's (a CronJob's own
 * metadata, its jobTemplate's pod template); both undefined for a fallback run, whose caller wrote the pod.
 */
export function assertRunConsent(
  policy: RunPolicy,
  kind: SourceKind,
  name: string,
  meta: V1ObjectMeta | undefined,
  template: V1PodTemplateSpec | undefined,
  request: { overrides: Readonly<Record<string, string>>; fallback?: { image: string } | undefined },
): void {
  if (meta === undefined) {
    if (request.fallback) assertFallbackImage(policy.fallback, request.fallback.image);
    return;
  }
  assertRunnable(kind, name, meta, policy.sourcesOptIn);
  assertEnvConsent(kind, name, meta, template?.spec?.containers[0], request.overrides);
}

/** A refusal by consent: the run's snapshot carries its own reason rather than InvalidSource. */
export function isConsentRefusal(err: unknown): err is EnvNotAllowedError | SourceNotRunnableError | FallbackNotAllowedError {
  return err instanceof EnvNotAllowedError || err instanceof SourceNotRunnableError || err instanceof FallbackNotAllowedError;
}

/**
 * CronJob management: on a Deployment (copied onto the CronJob made from it), or on a CronJob, `"true"` lets
 * callers replace the command or args of the container a CronJob runs. Without it they run what the image and
 * the manifest say: a new command is new code under the workload's service account and secrets.
 */
export const ALLOW_COMMAND_ANNOTATION = `${LABEL_PREFIX}allow-command`;
/** The annotations that carry a source's consent, which a CronJob made from a Deployment inherits. */
export const CONSENT_ANNOTATIONS: readonly string[] = [RUNNABLE_ANNOTATION, ALLOW_ENV_ANNOTATION, ALLOW_COMMAND_ANNOTATION];
/**
 * An httpCall's keySecretRef must name a Secret whose name starts with this: naming it so is its owner's consent
 * to its value being sent to an allowed URL. The app cannot read Secrets (and is given no right to), so a label
 * or annotation on the Secret could not be checked.
 */
export const HTTP_CALL_KEY_SECRET_PREFIX = 'aks-job-runner-http-call-';

export type ManagedKind = SourceKind | 'Deployment';

/** A command or args override the source has not consented to. */
export class CommandNotAllowedError extends AppError {
  override name = 'CommandNotAllowedError';
  override readonly status = 403;
  override readonly reason = 'CommandNotAllowed';
}

/** An httpCall the operator has not allowed: off, a URL outside the allow-list, or a key Secret not named for it. */
export class HttpCallNotAllowedError extends AppError {
  override name = 'HttpCallNotAllowedError';
  override readonly status = 403;
  override readonly reason = 'HttpCallNotAllowed';
}

/** Replacing the command or args needs the source's allow-command annotation. */
export function assertCommandConsent(kind: ManagedKind, name: string, meta: V1ObjectMeta | undefined, fields: readonly string[]): void {
  if (fields.length === 0 || meta?.annotations?.[ALLOW_COMMAND_ANNOTATION] === 'true') return;
  throw new CommandNotAllowedError(
    `${fields.join(' and ')}: ${kind} "${name}" does not let callers replace what its container runs; leave ${fields.join(' and ')} out, or its owner adds the annotation ${ALLOW_COMMAND_ANNOTATION}: "true"`,
  );
}

/** One HTTP_CALL_ALLOWED_URLS entry: an origin and a path prefix. */
export interface UrlRule {
  readonly origin: string;
  /** Ends with `/`, or is a whole path that may be followed only by `/...`. */
  readonly path: string;
}

/** HTTP_CALL_ALLOWED_URLS: absolute http(s) URL prefixes separated by commas or white space, no user, query or fragment. */
export function parseAllowedUrls(text: string): UrlRule[] {
  return listEntries(text).map((entry) => {
    const bad = (why: string) =>
      new Error(`"${entry}" is not a URL prefix (${why}): write an absolute http or https URL such as https://my-app.azurewebsites.net/api/`);
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw bad('not an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`${url.protocol} is not http or https`);
    if (url.username !== '' || url.password !== '') throw bad('it carries a user or password');
    if (url.search !== '' || url.hash !== '' || entry.includes('?') || entry.includes('#')) throw bad('it has a query or fragment');
    return { origin: url.origin, path: url.pathname };
  });
}

function urlMatches(rule: UrlRule, url: URL): boolean {
  if (url.origin !== rule.origin) return false;
  if (rule.path.endsWith('/')) return url.pathname.startsWith(rule.path);
  return url.pathname === rule.path || url.pathname.startsWith(`${rule.path}/`);
}

/**
 * An httpCall the operator allows, or a 403 that says how to allow it. Answers the URL as parsed (dot segments
 * resolved, characters escaped), which is what the CronJob then calls, so what was checked is what runs.
 */
export function assertHttpCallAllowed(rules: readonly UrlRule[], call: { url: string; keySecretRef?: { name: string } | undefined }): string {
  if (rules.length === 0) {
    throw new HttpCallNotAllowedError(
      'httpCall CronJobs are off in this app; an operator allows them by listing the URL prefixes they may call in the HTTP_CALL_ALLOWED_URLS app setting, e.g. https://my-app.azurewebsites.net/api/',
    );
  }
  const url = new URL(call.url);
  if (url.username !== '' || url.password !== '' || !rules.some((rule) => urlMatches(rule, url))) {
    // The allowed prefixes are the operator's map of what may be called: the log has them, the caller does not.
    throw new HttpCallNotAllowedError(
      `httpCall.url "${call.url}" is not under a URL this app may call; use a URL the app's operator gave you, or an operator adds its prefix to HTTP_CALL_ALLOWED_URLS`,
      { logDetail: `HTTP_CALL_ALLOWED_URLS: ${rules.map((r) => `${r.origin}${r.path}`).join(', ')}` },
    );
  }
  const secret = call.keySecretRef?.name;
  if (secret !== undefined && (!secret.startsWith(HTTP_CALL_KEY_SECRET_PREFIX) || secret.length === HTTP_CALL_KEY_SECRET_PREFIX.length)) {
    throw new HttpCallNotAllowedError(
      `httpCall.keySecretRef.name: Secret "${secret}" is not one made for httpCall keys; only Secrets whose name starts with "${HTTP_CALL_KEY_SECRET_PREFIX}" may be sent, so put the key in one such as "${HTTP_CALL_KEY_SECRET_PREFIX}report"`,
    );
  }
  return url.href;
}
