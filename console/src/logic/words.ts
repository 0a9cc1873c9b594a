/**
 * A command or args override typed in one field: either a JSON array (["sh","-c","echo hi"]) or words as a
 * shell splits them, with '…' and "…" quoting. Blank is "no override".
 */
export function parseWords(text: string): { ok: true; value: string[] | null } | { ok: false; error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, value: null };
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return { ok: true, value: parsed };
    } catch {
      // Not JSON after all: the message below says what is expected.
    }
    return { ok: false, error: 'a JSON array of strings, e.g. ["sh", "-c", "echo hello"]' };
  }
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed.charAt(i);
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < trimmed.length) current += trimmed.charAt(++i);
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else if (c === '\\' && i + 1 < trimmed.length) {
      current += trimmed.charAt(++i);
      inWord = true;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) return { ok: false, error: `a ${quote} quote is not closed` };
  if (inWord) words.push(current);
  return { ok: true, value: words };
}

/** The words as the form shows them again: plain words as they are, others quoted. */
export function formatWords(words: readonly string[] | null | undefined): string {
  return (words ?? []).map((w) => (/^[-\w./:=@%+,]+$/.test(w) ? w : `"${w.replace(/["\\]/g, '\\$&')}"`)).join(' ');
}
