import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { loadConfig, SETTING_NAMES } from '../../src/config.js';
import { PROBLEM_TYPE_BASE } from '../../src/http/problem.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SKIP = new Set(['node_modules', '.git', 'dist', '.local-runtime', 'coverage']);

function files(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path, keep);
    return keep(name) ? [path] : [];
  });
}

/** Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading?.[1]) continue;
    const slug = heading[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Every problem reason the code can answer with: error classes, problem() calls, fallbacks of passed-through reasons. */
function problemReasons(): Set<string> {
  const reasons = new Set<string>();
  for (const file of files(join(root, 'src'), (name) => name.endsWith('.ts'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/readonly reason(?::\s*string)?\s*=\s*'(\w+)'/g)) reasons.add(m[1] ?? '');
    for (const m of text.matchAll(/problem\(\s*\d+,\s*'(\w+)'/g)) reasons.add(m[1] ?? '');
    if (file.includes(join('src', 'http'))) for (const m of text.matchAll(/kubeReason \?\? '(\w+)'/g)) reasons.add(m[1] ?? '');
  }
  return reasons;
}

/**
 * Kubernetes StatusReasons (k8s.io/apimachinery metav1) that can reach a caller through errorResponse: the
 * ones of 400, 404, 409, 410 and 422, and the non-transient other 4xx that become a 502.
 */
const KUBERNETES_REASONS = [
  'BadRequest',
  'NotFound',
  'AlreadyExists',
  'Conflict',
  'Gone',
  'Expired',
  'Invalid',
  'MethodNotAllowed',
  'NotAcceptable',
  'UnsupportedMediaType',
  'RequestEntityTooLarge',
];

describe('docs/errors.md', () => {
  const errors = anchors(readFileSync(join(root, 'docs', 'errors.md'), 'utf8'));

  it('finds the reasons in the code (the collector itself works)', () => {
    const reasons = problemReasons();
    for (const known of ['BadRequest', 'PayloadTooLarge', 'ClusterForbidden', 'ClusterError', 'InternalError']) expect(reasons).toContain(known);
  });

  it.each([...problemReasons(), ...KUBERNETES_REASONS].map((reason) => ({ reason })))('has a section for the problem reason $reason', ({ reason }) => {
    expect(errors).toContain(reason.toLowerCase());
  });

  it('is where every problem type points, relative to the project root', () => {
    const [path, anchor] = `${PROBLEM_TYPE_BASE}badrequest`.split('#');
    expect(existsSync(join(root, path ?? ''))).toBe(true);
    expect(anchors(readFileSync(join(root, path ?? ''), 'utf8'))).toContain(anchor);
  });
});

describe('links in the project documentation', () => {
  const markdown = files(root, (name) => name.endsWith('.md'));
  const links = markdown.flatMap((file) => {
    const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
    return [...text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => ({ from: relative(root, file), target: m[1] ?? '' }));
  });
  const local = links.filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));

  it('finds the documents and their links', () => {
    expect(markdown.map((f) => relative(root, f))).toEqual(expect.arrayContaining(['README.md', join('docs', 'errors.md')]));
    expect(local.length).toBeGreaterThan(5);
  });

  it.each(local.map((link) => ({ ...link, name: `${link.from} → ${link.target}` })))('$name resolves inside the project', ({ from, target }) => {
    const [path = '', anchor] = target.split('#');
    const file = path === '' ? join(root, from) : resolve(dirname(join(root, from)), decodeURIComponent(path));
    expect(relative(root, file).startsWith('..'), `${target} leaves the project`).toBe(false);
    expect(existsSync(file), `${target} does not exist`).toBe(true);
    if (anchor !== undefined && anchor !== '') {
      expect(file.endsWith('.md'), `${target}: an anchor in a file that is not Markdown`).toBe(true);
      expect(anchors(readFileSync(file, 'utf8'))).toContain(anchor);
    }
  });
});

describe('local.settings.sample.json', () => {
  const values = (JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as { Values: Record<string, string> }).Values;

  it('names every setting the app reads, so none has to be looked up elsewhere', () => {
    for (const name of SETTING_NAMES) expect(Object.keys(values), name).toContain(name);
    for (const name of ['LOCAL_PORT', 'LOCAL_FUNCTION_KEY', 'LOCAL_HOST_KEY', 'LOCAL_MASTER_KEY', 'LOCAL_STATE_DIR']) expect(Object.keys(values), name).toContain(name);
  });

  it('is valid as it is and gives the defaults, with no AKS cluster to delete before a local start', () => {
    const config = loadConfig(values);
    expect(config.clusters.map((c) => c.type)).toEqual(['kubeconfig']);
    const defaults = loadConfig({ CLUSTERS: values.CLUSTERS });
    expect(config).toEqual(defaults);
  });
});
