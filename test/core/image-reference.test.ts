import { describe, expect, it } from 'vitest';

import { InvalidImageReferenceError, parseImageReference } from '../../src/core/image-reference.js';

/**
 * Image references against the grammar of github.com/distribution/reference (regexp.go, reference.go `Parse`),
 * with cases taken from its reference_test.go / regexp_test.go where they apply to `Parse` (not the
 * normalising `ParseNormalizedNamed`, which fills in docker.io/library/ and lower-cases nothing either).
 */
const HEX = 'a'.repeat(64);

describe('parseImageReference', () => {
  it.each([
    { input: 'busybox', name: 'busybox', tag: undefined, digest: undefined },
    { input: 'busybox:1.36', name: 'busybox', tag: '1.36', digest: undefined },
    { input: 'docker.io/library/busybox:1.36', name: 'docker.io/library/busybox', tag: '1.36', digest: undefined },
    { input: 'localhost:5000/tool:1', name: 'localhost:5000/tool', tag: '1', digest: undefined },
    { input: 'myacr.azurecr.io/tools/a/b@sha256:' + HEX, name: 'myacr.azurecr.io/tools/a/b', tag: undefined, digest: `sha256:${HEX}` },
    { input: `docker.io/library/busybox:1.36@sha256:${HEX}`, name: 'docker.io/library/busybox', tag: '1.36', digest: `sha256:${HEX}` },
    { input: '[2001:db8::1]:5000/repo:tag', name: '[2001:db8::1]:5000/repo', tag: 'tag', digest: undefined },
    { input: 'a__b/c--d/e.f_g:Tag_1.x-y', name: 'a__b/c--d/e.f_g', tag: 'Tag_1.x-y', digest: undefined },
    { input: 'Registry.Example.com/repo', name: 'Registry.Example.com/repo', tag: undefined, digest: undefined },
    { input: `x:${'t'.repeat(128)}`, name: 'x', tag: 't'.repeat(128), digest: undefined },
  ])('$input is a reference', ({ input, name, tag, digest }) => {
    expect(parseImageReference(input)).toEqual({ name, tag, digest });
  });

  it.each([
    { name: 'empty', input: '', says: 'it is empty' },
    { name: 'upper case in the repository', input: 'docker.io/library/BusyBox:1', says: 'must be lower case' },
    { name: 'a space', input: 'busybox 1.36', says: 'only lower-case letters' },
    { name: 'a shell injection', input: 'busybox;rm -rf /', says: 'only lower-case letters' },
    { name: 'a scheme', input: 'https://registry.example/repo', says: 'only lower-case letters' },
    { name: 'a trailing slash', input: 'docker.io/library/', says: 'only lower-case letters' },
    { name: 'two colons in the tag part', input: 'busybox:1:2', says: 'only lower-case letters' },
    { name: 'a tag longer than 128', input: `x:${'t'.repeat(129)}`, says: 'only lower-case letters' },
    { name: 'a tag starting with a dot', input: 'x:.1', says: 'only lower-case letters' },
    { name: 'a separator at a component\'s edge', input: 'repo-/x', says: 'only lower-case letters' },
    { name: 'three underscores', input: 'a___b', says: 'only lower-case letters' },
    { name: 'a short digest', input: 'busybox@sha256:abc', says: 'only lower-case letters' },
    { name: 'a sha256 digest of the wrong length', input: `busybox@sha256:${'a'.repeat(63)}b0`, says: 'a sha256 digest is 64 lower-case hex digits' },
    { name: 'an upper-case sha256 digest', input: `busybox@sha256:${'A'.repeat(64)}`, says: 'a sha256 digest is 64 lower-case hex digits' },
    { name: 'an unknown digest algorithm', input: `busybox@md5:${'a'.repeat(32)}`, says: 'digest algorithm "md5"' },
    { name: 'a name over 255 characters', input: `r/${'a'.repeat(254)}`, says: 'the repository name has 256 characters' },
    { name: 'a newline', input: 'busybox\n', says: 'only lower-case letters' },
  ])('refuses $name with a 400 saying why', ({ input, says }) => {
    const attempt = () => parseImageReference(input);
    expect(attempt).toThrow(InvalidImageReferenceError);
    expect(attempt).toThrow(says);
    expect(attempt).toThrow('e.g. docker.io/library/busybox:1.36');
    expect(new InvalidImageReferenceError('x').status).toBe(400);
  });
});
