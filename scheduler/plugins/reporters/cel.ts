/**
 * The subset of CEL (Common Expression Language) that `request-attribute-reporter` evaluates over a
 * response's `usage`. Parsing is strict: anything outside the subset is a parse error naming its
 * column, so an expression either means what CEL says or fails start-up.
 *
 * Subset: int literals (`42`), double literals (`1.5`, `2e3`), `true`, `false`, `null`; the one
 * variable `usage` (a JSON object, as CEL's google.protobuf.Struct: every number in it is a
 * double) and field selection `usage.a.b`; `has(usage.a)` / `has(usage.a.b)`; `int(x)`,
 * `double(x)`; unary `!` `-`; `* / %`, `+ -`; `< <= > >= == !=`; `&&`, `||`; `c ? a : b`;
 * parentheses; `//` comments. Not supported (parse error): strings, lists, maps, indexing,
 * macros other than `has`, methods and other functions, `in`.
 *
 * Evaluation follows CEL: no implicit int/double arithmetic (`1 + usage.x` is an error, compare
 * across them is allowed), int overflow and division by zero are errors, a missing field is an
 * error (use `has`), `&&`/`||` absorb an error when the other side decides the result.
 */

export type CelValue =
  | { readonly t: 'int'; readonly v: number }
  | { readonly t: 'double'; readonly v: number }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'null' }
  | { readonly t: 'other'; readonly v: unknown };

type Node =
  | { k: 'lit'; v: CelValue }
  | { k: 'usage' }
  | { k: 'sel'; obj: Node; field: string }
  | { k: 'has'; obj: Node; field: string }
  | { k: 'un'; op: '!' | '-'; x: Node }
  | { k: 'bin'; op: string; l: Node; r: Node }
  | { k: 'cond'; c: Node; t: Node; f: Node }
  | { k: 'conv'; to: 'int' | 'double'; x: Node };

export class CelSyntaxError extends Error {}
export class CelEvalError extends Error {}

interface Token { readonly s: string; readonly at: number; readonly kind: 'num' | 'id' | 'op' | 'end' }

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '!', '?', ':', '(', ')', '.'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (src.startsWith('//', i)) { while (i < src.length && src[i] !== '\n') i++; continue; }
    const num = /^(\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)(?![\w.])/.exec(src.slice(i));
    if (num) { out.push({ s: num[0], at: i, kind: 'num' }); i += num[0].length; continue; }
    const id = /^[A-Za-z_]\w*/.exec(src.slice(i));
    if (id) { out.push({ s: id[0], at: i, kind: 'id' }); i += id[0].length; continue; }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new CelSyntaxError(`unsupported character ${JSON.stringify(c)} at column ${i + 1}`);
    out.push({ s: op, at: i, kind: 'op' });
    i += op.length;
  }
  out.push({ s: '', at: src.length, kind: 'end' });
  return out;
}

const BINARY_LEVELS: readonly (readonly string[])[] = [['||'], ['&&'], ['==', '!=', '<', '<=', '>', '>='], ['+', '-'], ['*', '/', '%']];

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  parse(): Node {
    const node = this.ternary();
    if (this.peek.kind !== 'end') this.fail(`unexpected ${JSON.stringify(this.peek.s)}`);
    return node;
  }

  private get peek(): Token { return this.toks[this.i]!; }
  private fail(msg: string, at = this.peek.at): never { throw new CelSyntaxError(`${msg} at column ${at + 1}`); }
  private eat(s: string): boolean {
    if (this.peek.kind === 'op' && this.peek.s === s) { this.i++; return true; }
    return false;
  }
  private expect(s: string): void { if (!this.eat(s)) this.fail(`expected "${s}"`); }

  private ternary(): Node {
    const c = this.binary(0);
    if (!this.eat('?')) return c;
    const t = this.ternary();
    this.expect(':');
    return { k: 'cond', c, t, f: this.ternary() };
  }

  private binary(level: number): Node {
    if (level === BINARY_LEVELS.length) return this.unary();
    let l = this.binary(level + 1);
    for (;;) {
      const op = this.peek.kind === 'op' && BINARY_LEVELS[level]!.includes(this.peek.s) ? this.peek.s : undefined;
      if (!op) return l;
      this.i++;
      // Comparisons do not chain in CEL's grammar for our purposes: `a < b < c` is refused.
      const r = this.binary(level + 1);
      l = { k: 'bin', op, l, r };
      if (level === 2 && this.peek.kind === 'op' && BINARY_LEVELS[2]!.includes(this.peek.s)) this.fail('chained comparison is not supported');
    }
  }

  private unary(): Node {
    if (this.eat('!')) return { k: 'un', op: '!', x: this.unary() };
    if (this.eat('-')) return { k: 'un', op: '-', x: this.unary() };
    return this.member();
  }

  private member(): Node {
    let node = this.primary();
    while (this.eat('.')) {
      const t = this.peek;
      if (t.kind !== 'id') this.fail('expected a field name');
      this.i++;
      if (this.peek.kind === 'op' && this.peek.s === '(') this.fail(`method ${t.s}() is not supported`, t.at);
      node = { k: 'sel', obj: node, field: t.s };
    }
    if (this.peek.kind === 'op' && this.peek.s === '(') this.fail('only has(), int() and double() can be called');
    return node;
  }

  private primary(): Node {
    const t = this.peek;
    if (t.kind === 'num') {
      this.i++;
      const v = Number(t.s);
      if (/^\d+$/.test(t.s)) {
        if (!Number.isSafeInteger(v)) this.fail('integer literal out of range', t.at);
        return { k: 'lit', v: { t: 'int', v } };
      }
      return { k: 'lit', v: { t: 'double', v } };
    }
    if (this.eat('(')) {
      const inner = this.ternary();
      this.expect(')');
      return inner;
    }
    if (t.kind !== 'id') this.fail(t.kind === 'end' ? 'unexpected end of expression' : `unexpected ${JSON.stringify(t.s)}`);
    this.i++;
    switch (t.s) {
      case 'true': return { k: 'lit', v: { t: 'bool', v: true } };
      case 'false': return { k: 'lit', v: { t: 'bool', v: false } };
      case 'null': return { k: 'lit', v: { t: 'null' } };
      case 'usage': return { k: 'usage' };
      case 'has': {
        this.expect('(');
        const arg = this.member();
        if (arg.k !== 'sel') this.fail('has() takes a field selection such as usage.prompt_tokens', t.at);
        this.expect(')');
        return { k: 'has', obj: arg.obj, field: arg.field };
      }
      case 'int':
      case 'double': {
        this.expect('(');
        const x = this.ternary();
        this.expect(')');
        return { k: 'conv', to: t.s, x };
      }
      default:
        return this.fail(`undeclared reference to "${t.s}" (only "usage" is defined)`, t.at);
    }
  }
}

/** A parsed expression; `evaluate` never throws anything but CelEvalError. */
export class CelProgram {
  private constructor(private readonly root: Node) {}

  static parse(source: string): CelProgram {
    return new CelProgram(new Parser(tokenize(source)).parse());
  }

  evaluate(usage: unknown): CelValue {
    return evalNode(this.root, usage);
  }
}

const isNum = (v: CelValue): v is { t: 'int' | 'double'; v: number } => v.t === 'int' || v.t === 'double';

function fromJson(value: unknown): CelValue {
  if (typeof value === 'number') return { t: 'double', v: value };
  if (typeof value === 'boolean') return { t: 'bool', v: value };
  if (value === null) return { t: 'null' };
  return { t: 'other', v: value };
}

function fieldsOf(node: Node, usage: unknown): Record<string, unknown> {
  const v = node.k === 'usage' ? { t: 'other' as const, v: usage } : evalNode(node, usage);
  if (v.t !== 'other' || v.v === null || typeof v.v !== 'object' || Array.isArray(v.v)) throw new CelEvalError('field selection on a value that is not a map');
  return v.v as Record<string, unknown>;
}

function bool(v: CelValue): boolean {
  if (v.t !== 'bool') throw new CelEvalError(`expected a bool, got ${v.t}`);
  return v.v;
}

function int(n: number): CelValue {
  if (!Number.isSafeInteger(n)) throw new CelEvalError('integer overflow');
  return { t: 'int', v: n };
}

function evalNode(node: Node, usage: unknown): CelValue {
  switch (node.k) {
    case 'lit': return node.v;
    case 'usage': return { t: 'other', v: usage };
    case 'sel': {
      const fields = fieldsOf(node.obj, usage);
      if (!Object.hasOwn(fields, node.field)) throw new CelEvalError(`no such key: ${node.field}`);
      return fromJson(fields[node.field]);
    }
    case 'has': return { t: 'bool', v: Object.hasOwn(fieldsOf(node.obj, usage), node.field) };
    case 'un': {
      const x = evalNode(node.x, usage);
      if (node.op === '!') return { t: 'bool', v: !bool(x) };
      if (x.t === 'int') return int(-x.v);
      if (x.t === 'double') return { t: 'double', v: -x.v };
      throw new CelEvalError(`no matching overload for -${x.t}`);
    }
    case 'cond': return bool(evalNode(node.c, usage)) ? evalNode(node.t, usage) : evalNode(node.f, usage);
    case 'conv': {
      const x = evalNode(node.x, usage);
      if (!isNum(x)) throw new CelEvalError(`no matching overload for ${node.to}(${x.t})`);
      return node.to === 'double' ? { t: 'double', v: x.v } : int(Math.trunc(x.v));
    }
    case 'bin': return binary(node.op, node.l, node.r, usage);
  }
}

function logical(op: string, l: Node, r: Node, usage: unknown): CelValue {
  const decides = op === '||';
  let error: unknown;
  for (const side of [l, r]) {
    try {
      if (bool(evalNode(side, usage)) === decides) return { t: 'bool', v: decides };
    } catch (err) {
      error ??= err;
    }
  }
  if (error !== undefined) throw error;
  return { t: 'bool', v: !decides };
}

function binary(op: string, ln: Node, rn: Node, usage: unknown): CelValue {
  if (op === '&&' || op === '||') return logical(op, ln, rn, usage);
  const l = evalNode(ln, usage);
  const r = evalNode(rn, usage);
  if (op === '==' || op === '!=') {
    const same = isNum(l) && isNum(r) ? l.v === r.v : l.t === r.t && (l.t === 'null' || (l as { v: unknown }).v === (r as { v: unknown }).v);
    return { t: 'bool', v: op === '==' ? same : !same };
  }
  if (!isNum(l) || !isNum(r)) throw new CelEvalError(`no matching overload for ${l.t} ${op} ${r.t}`);
  switch (op) {
    case '<': return { t: 'bool', v: l.v < r.v };
    case '<=': return { t: 'bool', v: l.v <= r.v };
    case '>': return { t: 'bool', v: l.v > r.v };
    case '>=': return { t: 'bool', v: l.v >= r.v };
  }
  if (l.t !== r.t) throw new CelEvalError(`no matching overload for ${l.t} ${op} ${r.t}`);
  if (l.t === 'double') {
    if (op === '%') throw new CelEvalError('no matching overload for double % double');
    return { t: 'double', v: op === '+' ? l.v + r.v : op === '-' ? l.v - r.v : op === '*' ? l.v * r.v : l.v / r.v };
  }
  if ((op === '/' || op === '%') && r.v === 0) throw new CelEvalError(op === '/' ? 'division by zero' : 'modulus by zero');
  return int(op === '+' ? l.v + r.v : op === '-' ? l.v - r.v : op === '*' ? l.v * r.v : op === '/' ? Math.trunc(l.v / r.v) : l.v % r.v);
}
