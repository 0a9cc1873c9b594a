import { describe, expect, it } from 'vitest';

import { formatWords, parseWords } from '../../console/src/logic/words.js';

describe('console command and args fields', () => {
  it.each<{ name: string; text: string; words: string[] | null }>([
    { name: 'blank is no override', text: '   ', words: null },
    { name: 'plain words', text: 'node report.js --day yesterday', words: ['node', 'report.js', '--day', 'yesterday'] },
    { name: 'double quotes keep spaces', text: 'sh -c "echo hello world"', words: ['sh', '-c', 'echo hello world'] },
    { name: 'single quotes keep everything', text: `sh -c 'echo "$HOME"'`, words: ['sh', '-c', 'echo "$HOME"'] },
    { name: 'an empty quoted word is a word', text: 'a "" b', words: ['a', '', 'b'] },
    { name: 'a backslash escapes a space', text: 'cat my\\ file', words: ['cat', 'my file'] },
    { name: 'a JSON array as it is', text: '["sh", "-c", "echo hi"]', words: ['sh', '-c', 'echo hi'] },
  ])('$name', ({ text, words }) => {
    expect(parseWords(text)).toEqual({ ok: true, value: words });
  });

  it.each<{ name: string; text: string; error: RegExp }>([
    { name: 'an open quote', text: 'sh -c "echo', error: /not closed/ },
    { name: 'a JSON array of numbers', text: '[1, 2]', error: /JSON array of strings/ },
    { name: 'broken JSON', text: '["a",', error: /JSON array of strings/ },
  ])('refuses $name', ({ text, error }) => {
    const result = parseWords(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(error);
  });

  it.each([[['node', 'report.js']], [['sh', '-c', 'echo "hi there"']], [['a', '']], [[]]])('shows %j so that it reads back the same', (words) => {
    expect(parseWords(formatWords(words))).toEqual({ ok: true, value: words.length === 0 ? null : words });
  });
});
