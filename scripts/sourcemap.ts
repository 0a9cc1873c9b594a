// Source maps of the deployment bundle, kept to the app's own code. The worker maps stack traces through them
// (src/main.ts enables it), and what a person reads there is the app's frames in its TypeScript sources;
// mapping every bundled dependency as well would triple the package (most of the bundle is client-node, undici,
// zod and the Azure SDKs) and the memory the maps take once loaded. A frame inside a dependency shows its
// place in the bundle file instead, and THIRD-PARTY-NOTICES.txt says which packages are in it.
//
// Source map v3 (https://tc39.es/ecma426/): `mappings` is lines separated by `;`, segments by `,`, each segment
// 1, 4 or 5 base64 VLQ numbers, relative to the previous segment (the generated column only within its line).

export interface SourceMap {
  version: 3;
  sources: string[];
  names: string[];
  mappings: string;
  sourcesContent?: (string | null)[];
  sourceRoot?: string;
  file?: string;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT = new Map([...BASE64].map((c, i) => [c, i]));

export function decodeVlq(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`not a base64 VLQ digit: ${JSON.stringify(char)}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value % 2 === 1 ? -Math.floor(value / 2) : value / 2);
    value = 0;
    shift = 0;
  }
  if (shift !== 0) throw new Error('a base64 VLQ number is cut short');
  return values;
}

export function encodeVlq(values: number[]): string {
  let out = '';
  for (const v of values) {
    let rest = v < 0 ? -v * 2 + 1 : v * 2;
    do {
      const digit = rest % 32;
      rest = Math.floor(rest / 32);
      out += BASE64.charAt(rest > 0 ? digit + 32 : digit);
    } while (rest > 0);
  }
  return out;
}

/** A segment with absolute values: [column] (unmapped) or [column, source, line, sourceColumn, name?]. */
type Segment = number[];

export function decodeMappings(mappings: string): Segment[][] {
  const state = [0, 0, 0, 0];
  return mappings.split(';').map((line) => {
    let column = 0;
    if (line === '') return [];
    return line.split(',').map((text) => {
      const rel = decodeVlq(text);
      column += rel[0] ?? 0;
      if (rel.length === 1) return [column];
      for (let i = 1; i < rel.length; i++) state[i - 1] = (state[i - 1] ?? 0) + (rel[i] ?? 0);
      return rel.length === 5 ? [column, state[0] ?? 0, state[1] ?? 0, state[2] ?? 0, state[3] ?? 0] : [column, state[0] ?? 0, state[1] ?? 0, state[2] ?? 0];
    });
  });
}

export function encodeMappings(lines: Segment[][]): string {
  const state = [0, 0, 0, 0];
  return lines
    .map((segments) => {
      let column = 0;
      return segments
        .map((segment) => {
          const rel = [(segment[0] ?? 0) - column];
          column = segment[0] ?? 0;
          for (let i = 1; i < segment.length; i++) {
            rel.push((segment[i] ?? 0) - (state[i - 1] ?? 0));
            state[i - 1] = segment[i] ?? 0;
          }
          return encodeVlq(rel);
        })
        .join(',');
    })
    .join(';');
}

/**
 * The map with only the segments whose source `keep` accepts. A dropped segment becomes an unmapped one (its
 * column alone), so the code it covered is not attributed to the kept segment before it; runs of unmapped
 * segments collapse to one. Sources and names nothing maps to any more are removed.
 */
export function keepSources(map: SourceMap, keep: (source: string) => boolean): SourceMap {
  const sourceIndex = new Map<number, number>();
  const sources: string[] = [];
  const nameIndex = new Map<number, number>();
  const names: string[] = [];
  const lines = decodeMappings(map.mappings).map((segments) => {
    const out: Segment[] = [];
    for (const segment of segments) {
      const [column = 0, source, line, sourceColumn, name] = segment;
      if (source === undefined || !keep(map.sources[source] ?? '')) {
        // Unmapped from here; nothing to say at the start of a line or after another unmapped segment.
        const last = out.at(-1);
        if (last !== undefined && last.length > 1) out.push([column]);
        continue;
      }
      let s = sourceIndex.get(source);
      if (s === undefined) {
        s = sources.push(map.sources[source] ?? '') - 1;
        sourceIndex.set(source, s);
      }
      const kept = [column, s, line ?? 0, sourceColumn ?? 0];
      if (name !== undefined) {
        let n = nameIndex.get(name);
        if (n === undefined) {
          n = names.push(map.names[name] ?? '') - 1;
          nameIndex.set(name, n);
        }
        kept.push(n);
      }
      out.push(kept);
    }
    return out;
  });
  const trimmed: SourceMap = { ...map, sources, names, mappings: encodeMappings(lines) };
  delete trimmed.sourcesContent;
  return trimmed;
}
