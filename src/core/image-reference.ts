import { AppError } from './errors.js';

/**
 * Image references as container runtimes parse them: the grammar of github.com/distribution/reference
 * (regexp.go, `ReferencePattern`; reference.go, `Parse`), which containerd and the kubelet use.
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path-component [ "/" path-component ]*   (at most 255 characters)
 *   domain    := ( domain-name | "[" IPv6 "]" ) [ ":" port ]
 *   path-component := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [\w][\w.-]{0,127}
 *   digest    := algorithm ":" hex   (Parse then checks it as go-digest does: sha256 is 64 lower-case hex...)
 *
 * A string outside it would reach the runtime only to fail as InvalidImageName on the node, after a Job was made;
 * refusing it at the start route says what is wrong while nothing exists yet.
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** reference.NameTotalLengthMax. */
export const IMAGE_NAME_MAX = 255;

/** go-digest's registered algorithms and their encoded lengths (lower-case hex). */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

export interface ImageReference {
  /** Registry and repository, as written (no defaults filled in). */
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** A fallback image the runtime could not parse. */
export class InvalidImageReferenceError extends AppError {
  override name = 'InvalidImageReferenceError';
  override readonly status = 400;
  override readonly reason = 'InvalidImageReference';
}

/** The parts of an image reference, or a 400 that says which rule it breaks. */
export function parseImageReference(text: string): ImageReference {
  const invalid = (why: string) =>
    new InvalidImageReferenceError(
      `image ${JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}...` : text)} is not an image reference (${why}); write registry/repository[:tag][@sha256:<64 hex>], e.g. docker.io/library/busybox:1.36`,
    );
  if (text === '') throw invalid('it is empty');
  const match = REFERENCE.exec(text);
  if (!match) {
    if (REFERENCE.test(text.toLowerCase())) throw invalid('a repository name must be lower case');
    throw invalid('only lower-case letters, digits and . _ - / in the repository, a tag after ":" of at most 128 letters, digits, _ . -, a digest after "@"');
  }
  const [, name = '', tag, digest] = match;
  if (name.length > IMAGE_NAME_MAX) throw invalid(`the repository name has ${name.length} characters; at most ${IMAGE_NAME_MAX}`);
  if (digest !== undefined) {
    const [algorithm = '', hex = ''] = digest.split(':');
    const length = DIGEST_HEX_LENGTH[algorithm];
    if (length === undefined) throw invalid(`digest algorithm "${algorithm}" is not one runtimes know (sha256, sha384, sha512)`);
    if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) throw invalid(`a ${algorithm} digest is ${length} lower-case hex digits`);
  }
  return { name, tag, digest };
}
