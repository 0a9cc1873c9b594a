// esbuild wraps each bundled CommonJS module in a function it calls on the module's first `require`, and when it
// minifies it writes that function as an arrow: `var r=c((e,t)=>{...the module...})`. V8 compiles a large arrow
// more slowly than the same function written with `function` (luxon's 86 KB module: 7.8 ms as an arrow, 5.6 ms as
// a function expression, compiled and run in a fresh Node 22; docs/decisions.md, issue 25), and the files a new
// instance reads hold the Functions library, luxon, cron-parser and cronstrue as such modules. This pass rewrites
// those wrappers, and only those, as function expressions, and moves the source map's columns by what it inserts.
//
// It is safe because esbuild already replaced what an arrow and a function would read differently: a CommonJS
// module's top-level `this` becomes `exports` in the bundle. A wrapper whose own body (outside functions of its
// own) still reads `this`, `arguments`, `new.target` or `super` is left as it is.
import { type Node, parse } from 'acorn';

import { decodeMappings, encodeMappings, type SourceMap } from './sourcemap.js';

/** A replacement of code[start, end) by text. */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

type AnyNode = Node & Record<string, unknown>;

function isNode(value: unknown): value is AnyNode {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

function children(node: AnyNode): AnyNode[] {
  const out: AnyNode[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'type' || key === 'start' || key === 'end') continue;
    if (Array.isArray(value)) for (const item of value) if (isNode(item)) out.push(item);
    if (isNode(value)) out.push(value);
  }
  return out;
}

/** Whether `node` reads what an arrow takes from around it: `this`, `arguments`, `new.target`, `super`. */
function readsOwnContext(node: AnyNode): boolean {
  if (node.type === 'ThisExpression' || node.type === 'Super' || node.type === 'MetaProperty') return true;
  if (node.type === 'Identifier' && node.name === 'arguments') return true;
  // A function of its own (not an arrow) has its own: what it reads there is not the wrapper's.
  if (node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration') return false;
  if (node.type === 'MethodDefinition' || node.type === 'PropertyDefinition' || node.type === 'StaticBlock') {
    // Their keys are evaluated outside (computed keys): look at those only.
    return node.computed === true && isNode(node.key) && readsOwnContext(node.key);
  }
  if (node.type === 'Property' && (node.method === true || node.kind !== 'init')) return node.computed === true && isNode(node.key) && readsOwnContext(node.key);
  return children(node).some(readsOwnContext);
}

/** What a file of the bundle declares: its CommonJS helper's local names, and what it exports under which name. */
export interface FileFacts {
  /** Top-level names bound to esbuild's `__commonJS` helper, defined here. */
  helpers: Set<string>;
  /** Export name -> local name. */
  exports: Map<string, string>;
}

/** esbuild's `__commonJS`: `(cb, mod) => () => ... mod || cb((mod = { exports: {} }).exports, mod) ... mod.exports`. */
function isCommonJsHelper(code: string, init: AnyNode): boolean {
  if (init.type !== 'ArrowFunctionExpression' && init.type !== 'FunctionExpression') return false;
  const text = code.slice(init.start, init.end);
  return (init.params as unknown[]).length === 2 && /\{exports:\{\}\}\)\.exports/.test(text.replace(/\s/g, ''));
}

function topLevel(code: string): AnyNode {
  return parse(code, { ecmaVersion: 'latest', sourceType: 'module' }) as unknown as AnyNode;
}

export function factsOf(code: string, program: AnyNode = topLevel(code)): FileFacts {
  const helpers = new Set<string>();
  const exports = new Map<string, string>();
  for (const statement of program.body as AnyNode[]) {
    if (statement.type === 'VariableDeclaration') {
      for (const d of statement.declarations as AnyNode[]) {
        const id = d.id as AnyNode;
        if (id.type === 'Identifier' && isNode(d.init) && isCommonJsHelper(code, d.init)) helpers.add(id.name as string);
      }
    }
    if (statement.type === 'ExportNamedDeclaration' && !isNode(statement.source)) {
      for (const s of statement.specifiers as AnyNode[]) exports.set((s.exported as AnyNode).name as string, (s.local as AnyNode).name as string);
    }
  }
  return { helpers, exports };
}

/**
 * For the files of one bundle (name -> code): whether the file an import names (`./chunk-X.js`) exports esbuild's
 * helper under a name.
 */
export function helperExports(files: Map<string, string>): (source: string, name: string) => boolean {
  const facts = new Map([...files].map(([file, code]) => [file, factsOf(code)]));
  return (source, name) => {
    if (!source.startsWith('./')) return false;
    const of = facts.get(source.slice(2));
    const local = of?.exports.get(name);
    return local !== undefined && (of?.helpers.has(local) ?? false);
  };
}

/**
 * The edits that make each CommonJS wrapper of `code` a function expression. `helperOf(source, name)` says whether
 * the file `source` (an import's specifier, `./chunk-X.js`) exports esbuild's helper under `name`.
 */
export function commonJsWrapperEdits(code: string, helperOf: (source: string, name: string) => boolean): Edit[] {
  const program = topLevel(code);
  const { helpers } = factsOf(code, program);
  const body = program.body as AnyNode[];
  for (const statement of body) {
    if (statement.type !== 'ImportDeclaration') continue;
    const source = (statement.source as AnyNode).value as string;
    for (const s of statement.specifiers as AnyNode[]) {
      if (s.type === 'ImportSpecifier' && helperOf(source, (s.imported as AnyNode).name as string)) helpers.add((s.local as AnyNode).name as string);
    }
  }
  const edits: Edit[] = [];
  for (const statement of body) {
    if (statement.type !== 'VariableDeclaration') continue;
    for (const d of statement.declarations as AnyNode[]) {
      const call = d.init;
      if (!isNode(call) || call.type !== 'CallExpression') continue;
      const callee = call.callee as AnyNode;
      const [wrapper] = call.arguments as AnyNode[];
      if (callee.type !== 'Identifier' || !helpers.has(callee.name as string) || wrapper === undefined) continue;
      if (wrapper.type !== 'ArrowFunctionExpression' || wrapper.async === true || (wrapper.body as AnyNode).type !== 'BlockStatement') continue;
      const params = wrapper.params as AnyNode[];
      if (!params.every((p) => p.type === 'Identifier')) continue;
      if (readsOwnContext(wrapper.body as AnyNode)) continue;
      edits.push({ start: wrapper.start, end: (wrapper.body as AnyNode).start, text: `function(${params.map((p) => p.name as string).join(',')})` });
    }
  }
  return edits;
}

/** Positions of the starts of lines. */
function lineStarts(code: string): number[] {
  const starts = [0];
  for (let i = code.indexOf('\n'); i !== -1; i = code.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * `code` with `edits` made (none overlapping), and `map` (of `code`) moved to match: on an edited line, a segment
 * after an edit moves by what the edits before it inserted; one inside a replaced range goes to its start.
 */
export function applyEdits(code: string, edits: Edit[], map?: SourceMap): { code: string; map?: SourceMap } {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const edit of sorted) {
    if (edit.start < at) throw new Error('overlapping edits');
    out += code.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  out += code.slice(at);
  if (map === undefined) return { code: out };
  const starts = lineStarts(code);
  const byLine = new Map<number, { startColumn: number; endColumn: number; delta: number }[]>();
  for (const edit of sorted) {
    const line = lineOf(starts, edit.start);
    if (lineOf(starts, edit.end) !== line) throw new Error('an edit spans lines');
    const lineStart = starts[line] ?? 0;
    const list = byLine.get(line) ?? [];
    list.push({ startColumn: edit.start - lineStart, endColumn: edit.end - lineStart, delta: edit.text.length - (edit.end - edit.start) });
    byLine.set(line, list);
  }
  const lines = decodeMappings(map.mappings).map((segments, line) => {
    const lineEdits = byLine.get(line);
    if (lineEdits === undefined) return segments;
    return segments.map((segment) => {
      const column = segment[0] ?? 0;
      let moved = column;
      for (const e of lineEdits) {
        if (column >= e.endColumn) moved += e.delta;
        else if (column > e.startColumn) moved -= column - e.startColumn;
      }
      return [moved, ...segment.slice(1)];
    });
  });
  return { code: out, map: { ...map, mappings: encodeMappings(lines) } };
}
