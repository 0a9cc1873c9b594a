import type { V1EnvVar } from '@kubernetes/client-node';

/**
 * Kubernetes' own `$(NAME)` substitution, which the kubelet applies before any shell or program sees a value:
 * to each plain env `value` (with the variables declared before it and the service variables) and to the
 * container's `command` and `args` (with the container's whole environment). Its grammar is
 * third_party/forked/golang/expansion/expand.go in kubernetes/kubernetes:
 * - `$$` is an escaped `$` (it becomes one `$`, and what follows is not read as a reference);
 * - `$(` up to the first `)` is a reference, whatever characters the name holds (a relaxed env name may hold
 *   spaces); a name with no value is left as written, `$(NAME)`;
 * - `$(` with no `)` after it, `$` before any other character, and a `$` at the end are kept as they are.
 * The operators are ASCII, so reading UTF-16 code units finds them where Go's byte scan does.
 */
const OPERATOR = '$';
const OPENER = '(';
const CLOSER = ')';

/** A value as the kubelet turns it into what the process sees, `lookup` answering a name's value or undefined. */
export function expandReferences(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== OPERATOR || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    if (next === OPERATOR) {
      out += OPERATOR;
      cursor += 1;
    } else if (next === OPENER) {
      const close = input.indexOf(CLOSER, cursor + 2);
      if (close < 0) {
        out += OPERATOR + OPENER;
        cursor += 1;
      } else {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `${OPERATOR}${OPENER}${name}${CLOSER}`;
        cursor = close;
      }
    } else {
      out += OPERATOR + (next ?? '');
      cursor += 1;
    }
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** The names a value refers to as `$(NAME)`: the ones the kubelet would replace with a variable's value. */
export function referencedNames(input: string): string[] {
  const names: string[] = [];
  expandReferences(input, (name) => {
    names.push(name);
    return undefined;
  });
  return names;
}

/**
 * A value that reaches the process exactly as given: every `$` doubled, which the kubelet turns back into one,
 * so `$(DB_PASSWORD)` stays that text instead of becoming the Secret's value.
 */
export function escapeReferences(value: string): string {
  // split/join, not replaceAll: in a replacement string `$$` itself means one `$`.
  return value.split(OPERATOR).join(OPERATOR + OPERATOR);
}

/**
 * What a stored value that holds no live reference gives the process: `$$` read as `$`. A value with references
 * keeps them as written (their values are the pod's, not ours), so it reads as the text the manifest holds.
 */
export function literalOf(value: string): string {
  return expandReferences(value, () => undefined);
}

/**
 * The env names the kubelet substitutes into this command and args, directly (`$(NAME)`) or through a plain env
 * value they refer to that itself refers to `$(NAME)`: a value set for any of them becomes part of what the
 * container runs. Over-approximates the declaration order (a value refers only to variables before it), so a
 * name is never missed.
 */
export function commandReferences(container: {
  env?: readonly V1EnvVar[] | undefined;
  command?: readonly string[] | undefined;
  args?: readonly string[] | undefined;
}): Set<string> {
  const plain = new Map<string, string[]>();
  for (const entry of container.env ?? []) {
    if (entry.valueFrom === undefined && entry.value) plain.set(entry.name, [...(plain.get(entry.name) ?? []), entry.value]);
  }
  const found = new Set<string>();
  const pending = [...(container.command ?? []), ...(container.args ?? [])].flatMap(referencedNames);
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (found.has(name)) continue;
    found.add(name);
    for (const value of plain.get(name) ?? []) pending.push(...referencedNames(value));
  }
  return found;
}
