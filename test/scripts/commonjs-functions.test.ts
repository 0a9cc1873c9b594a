/**
 * The bundle's CommonJS wrappers as function expressions (scripts/commonjs-functions.ts): which calls are changed,
 * that the code still behaves the same, and that the source map follows.
 */
import { describe, expect, it } from 'vitest';

import { applyEdits, commonJsWrapperEdits, factsOf, helperExports } from '../../scripts/commonjs-functions.js';
import { decodeMappings, encodeMappings } from '../../scripts/sourcemap.js';

/** esbuild 0.28's minified helper, as the bundle's runtime chunk defines it. */
const HELPER = 'var o=(a,b)=>()=>{try{return b||a((b={exports:{}}).exports,b),b.exports}catch(c){throw b=0,c}};';
const none = () => false;

function converted(code: string, helperOf: (source: string, name: string) => boolean = none): string {
  return applyEdits(code, commonJsWrapperEdits(code, helperOf)).code;
}

describe('which wrappers become functions', () => {
  it('finds the helper defined in the file, and what the file exports it as', () => {
    const facts = factsOf(`${HELPER}var p=(a,b)=>a+b;export{o as c,p as d};`);
    expect([...facts.helpers]).toEqual(['o']);
    expect(facts.exports.get('c')).toBe('o');
  });

  it('tells which file of a bundle exports the helper, under which name', () => {
    const helperOf = helperExports(new Map([['chunk-A.js', `${HELPER}var p=1;export{o as c,p as d};`], ['index.js', 'import{c as U}from"./chunk-A.js";']]));
    expect(helperOf('./chunk-A.js', 'c')).toBe(true);
    expect(helperOf('./chunk-A.js', 'd')).toBe(false);
    expect(helperOf('./index.js', 'c')).toBe(false);
    expect(helperOf('chunk-A.js', 'c')).toBe(false);
  });

  it("rewrites a top-level module wrapper made with the file's own helper, with one or two parameters", () => {
    const code = `${HELPER}var r=o((e,t)=>{t.exports=1}),s=o(e=>{e.a=2});`;
    expect(converted(code)).toBe(`${HELPER}var r=o(function(e,t){t.exports=1}),s=o(function(e){e.a=2});`);
  });

  it('rewrites one made with the helper imported from another file of the bundle, when that file exports it', () => {
    const code = 'import{c as U,d as V}from"./chunk-A.js";var r=U((e,t)=>{t.exports=1}),s=V((e,t)=>{t.exports=2});';
    const helperOf = (source: string, name: string) => source === './chunk-A.js' && name === 'c';
    expect(converted(code, helperOf)).toBe('import{c as U,d as V}from"./chunk-A.js";var r=U(function(e,t){t.exports=1}),s=V((e,t)=>{t.exports=2});');
  });

  it('leaves other calls with arrows, async arrows, arrows with an expression body, and nested calls alone', () => {
    const code = `${HELPER}var a=f((e,t)=>{t.x=1}),b=o(async(e,t)=>{await t}),c=o((e,t)=>t),d=function(){return o((e,t)=>{t.x=1})};`;
    expect(converted(code)).toBe(code);
  });

  it('leaves a wrapper that reads this, arguments or new.target of its own, and rewrites one whose this is inside a function of its own', () => {
    const reads = [`var r=o((e,t)=>{t.exports=this})`, `var r=o((e,t)=>{t.exports=()=>arguments[0]})`, `var r=o((e,t)=>{t.exports=class{[this.k]=1}})`];
    for (const code of reads) expect(converted(`${HELPER}${code};`), code).toBe(`${HELPER}${code};`);
    const own = `${HELPER}var r=o((e,t)=>{t.exports=function(){return this};class K{m(){return this}f=()=>this}});`;
    expect(converted(own)).toBe(`${HELPER}var r=o(function(e,t){t.exports=function(){return this};class K{m(){return this}f=()=>this}});`);
  });

  it('the rewritten module gives what the original gave', async () => {
    const code = `${HELPER}var r=o((e,t)=>{var n=[1,2].map(x=>x*2);function f(){return typeof this}t.exports={n,f:f(),u:typeof exports}});export default r();`;
    const url = (text: string) => `data:text/javascript,${encodeURIComponent(text)}`;
    const before = ((await import(url(code))) as { default: unknown }).default;
    const after = ((await import(url(converted(code)))) as { default: unknown }).default;
    expect(converted(code)).not.toBe(code);
    expect(after).toEqual(before);
    expect(after).toEqual({ n: [2, 4], f: 'undefined', u: 'undefined' });
  });
});

describe('the source map follows the rewrite', () => {
  it('moves segments after an edit by what it inserted, and one inside the replaced text to its start', () => {
    // One line: `var r=o((e,t)=>{t.exports=1});g();` with segments at columns 0, 8 (the arrow), 11 (inside it),
    // 16 (its body) and 31 (after it); the edit turns `(e,t)=>` (columns 8-15) into `function(e,t)`, 6 longer.
    const code = 'var r=o((e,t)=>{t.exports=1});g();';
    const edits = [{ start: 8, end: 15, text: 'function(e,t)' }];
    const mappings = encodeMappings([[[0, 0, 0, 0], [8, 0, 1, 0], [11, 0, 1, 3], [16, 0, 2, 0], [31, 0, 3, 0]], [[0, 0, 4, 0]]]);
    const result = applyEdits(code, edits, { version: 3, sources: ['a.ts'], names: [], mappings });
    expect(result.code).toBe('var r=o(function(e,t){t.exports=1});g();');
    expect(decodeMappings(result.map?.mappings ?? '')).toEqual([[[0, 0, 0, 0], [8, 0, 1, 0], [8, 0, 1, 3], [22, 0, 2, 0], [37, 0, 3, 0]], [[0, 0, 4, 0]]]);
    // The code at each moved segment is the code it pointed at before.
    expect(result.code.slice(22, 24)).toBe(code.slice(16, 18));
    expect(result.code.slice(37)).toBe(code.slice(31));
  });

  it('adds up several edits on one line, and leaves other lines as they were', () => {
    const code = 'var r=o(e=>{}),s=o(e=>{});\nh();';
    const edits = commonJsWrapperEdits(`${HELPER}\n${code}`, none).map((e) => ({ ...e, start: e.start - HELPER.length - 1, end: e.end - HELPER.length - 1 }));
    expect(edits).toHaveLength(2);
    const mappings = encodeMappings([[[0, 0, 0, 0], [11, 0, 0, 11], [22, 0, 0, 22]], [[0, 0, 1, 0]]]);
    const result = applyEdits(code, edits, { version: 3, sources: ['a.ts'], names: [], mappings });
    expect(result.code).toBe('var r=o(function(e){}),s=o(function(e){});\nh();');
    expect(decodeMappings(result.map?.mappings ?? '')).toEqual([[[0, 0, 0, 0], [19, 0, 0, 11], [38, 0, 0, 22]], [[0, 0, 1, 0]]]);
  });
});
