/**
 * Renders a chat template without making the long message contents (src/openai/ropes.ts) into
 * strings: the output comes back as parts (text-parts.ts) in which each long content is its
 * pieces, so neither the content nor the rendered prompt becomes a body-sized string.
 *
 * How: each long value is replaced in the template's variables by a short marker (rope-spans.ts)
 * and the template is rendered with an interpreter that watches what is done to any value holding
 * a marker (a string, or a list, mapping or namespace holding one). Moving such a value around
 * (variables, members, loops, `if`, namespace attributes), concatenating it (`+`, `~`, output,
 * `join` of strings), and asking its type or truthiness give the same result with the marker as
 * with the text, so the output with each marker replaced by its pieces is exactly the output of
 * rendering the text. A few reads are answered from the pieces themselves, exactly:
 * `startswith`/`endswith` calls (from the head or tail they need), `'text' in value` (searched
 * piece by piece), `|trim` and `|length`. Anything else that reads a marked value — a comparison,
 * a slice, `split`, `tojson`, `dictsort`, a call taking it as an argument, a list or namespace
 * printed as its repr, … — stops this render, and the template is rendered the plain way (as are
 * templates that fail, with the plain render's error, and outputs longer than a string can be).
 *
 * Qwen3's template (`startswith`/`endswith` on user contents, `'</think>' in` assistant ones),
 * Llama 3.x's (`| trim`), Gemma 3's and DeepSeek-V3's render this way.
 *
 * This drives `@huggingface/jinja`'s Interpreter from outside: its value classes are taken from
 * values it makes, and a few of its methods are wrapped on our instance (checked at load).
 */
import { Interpreter, type Environment, type Template } from '@huggingface/jinja';
import { RopeMatcher, type Rope } from '../openai/ropes.js';
import { ArrayValue, BooleanValue, IntegerValue, isA, isScalar, Marks, MAX_DEPTH, ObjectValue, READ, StringValue, type Value } from './rope-marks.js';
import { head, includes, SpanTable, tail, trimmed } from './rope-spans.js';
import type { PromptText } from './text-parts.js';
import { renderTemplate, templateScope } from './template-globals.js';

type AstNode = { type: string; [field: string]: unknown };
type Method = (this: Patched, ...args: never[]) => Value;
type Patched = Record<string, Method> & { run(program: unknown): Value };

const BASE = Interpreter.prototype as unknown as Record<string, Method>;
const WRAPPED = ['evaluate', 'evaluateBlock', 'evaluateBinaryExpression', 'evaluateMemberExpression', 'evaluateCallExpression', 'evaluateArguments', 'evaluateSet', 'applyFilter', 'evaluateTestExpression'];
for (const name of WRAPPED) {
  if (typeof BASE[name] !== 'function') throw new Error(`@huggingface/jinja changed: Interpreter has no ${name}`);
}

/** Tests that look at the type only. */
const TYPE_TESTS = new Set(['boolean', 'callable', 'false', 'true', 'none', 'string', 'number', 'integer', 'iterable', 'mapping', 'sequence', 'defined', 'undefined']);
/** Filters that only move or count a list's items (or join them). */
const LIST_FILTERS = new Set(['safe', 'list', 'first', 'last', 'length', 'reverse', 'join']);
/** Methods of a mapping that only move its values. */
const MAPPING_METHODS = new Set(['get', 'items', 'keys', 'values']);

/** An already evaluated operand, handed back by `evaluate`. */
const EVALUATED = 'RopeEvaluated';
const evaluated = (value: Value): AstNode => ({ type: EVALUATED, value });

function filterName(node: AstNode): string | undefined {
  if (node.type === 'Identifier') return node.value as string;
  const callee = node.callee as AstNode | undefined;
  return node.type === 'CallExpression' && callee?.type === 'Identifier' ? (callee.value as string) : undefined;
}

/** An interpreter that stops (READ) when a marked value is read beyond what keeps it exact. */
function watchingInterpreter(scope: Environment, table: SpanTable): Patched {
  const it = new Interpreter(scope) as unknown as Patched;
  const base = (name: string, self: Patched, ...args: unknown[]): Value => (BASE[name] as (...a: unknown[]) => Value).apply(self, args);
  const marks = new Marks(table);
  const marked = (value: Value): boolean => marks.of(value);

  it.evaluate = function (this: Patched, node: AstNode, env: Environment): Value {
    if (node?.type === EVALUATED) return node.value as Value;
    const value = base('evaluate', this, node, env);
    if (node?.type === 'ObjectLiteral' && marked(value)) throw READ;
    return value;
  } as Method;

  it.evaluateBlock = function (this: Patched, statements: AstNode[], env: Environment): Value {
    let out = '';
    const printed: Value[] = [];
    for (const statement of statements) {
      const value = this.evaluate!(statement as never, env as never);
      if (value.type === 'NullValue' || value.type === 'UndefinedValue') continue;
      if (!isScalar(value) && marked(value)) throw READ; // a list or mapping printed as its repr
      out += value.toString();
      printed.push(value);
    }
    const block = new StringValue(out);
    marks.made(block, printed);
    return block;
  } as Method;

  it.evaluateSet = function (this: Patched, node: AstNode, env: Environment): Value {
    const result = base('evaluateSet', this, node, env);
    if ((node.assignee as AstNode).type === 'MemberExpression') marks.changed();
    return result;
  } as Method;

  it.evaluateBinaryExpression = function (this: Patched, node: AstNode, env: Environment): Value {
    const op = (node.operator as { value: string }).value;
    if (op === 'and' || op === 'or') return base('evaluateBinaryExpression', this, node, env);
    const left = this.evaluate!(node.left as never, env as never);
    const right = this.evaluate!(node.right as never, env as never);
    if ((op === 'in' || op === 'not in') && isA(left, StringValue) && !marked(left) && isA(right, StringValue)) {
      const span = table.whole(right.value as string);
      if (span) return new BooleanValue(includes(span, left.value as string) === (op === 'in'));
    }
    if (marked(left) || marked(right)) {
      const concatenation = (op === '+' || op === '~') && isScalar(left) && isScalar(right);
      const lists = op === '+' && isA(left, ArrayValue) && isA(right, ArrayValue);
      const key = (op === 'in' || op === 'not in') && isA(left, StringValue) && !marked(left) && isA(right, ObjectValue);
      if (!concatenation && !lists && !key) throw READ;
    }
    const result = base('evaluateBinaryExpression', this, { ...node, left: evaluated(left), right: evaluated(right) }, env);
    if ((op === '+' || op === '~') && isA(result, StringValue)) marks.made(result, [left, right]);
    return result;
  } as Method;

  // `value.startswith(…)` / `value.endswith(…)` on a long value: the same builtin, on the head or
  // tail its patterns need. Evaluated as the interpreter does: arguments, then the callee.
  it.evaluateCallExpression = function (this: Patched, node: AstNode, env: Environment): Value {
    const callee = node.callee as AstNode;
    const property = callee.property as AstNode | undefined;
    const name = callee.type === 'MemberExpression' && !callee.computed && property?.type === 'Identifier' ? (property.value as string) : undefined;
    if (name !== 'startswith' && name !== 'endswith') return base('evaluateCallExpression', this, node, env);
    const [args, kwargs] = this.evaluateArguments!(node.args as never, env as never) as unknown as [Value[], Map<string, Value>];
    const object = this.evaluate!(callee.object as never, env as never);
    const span = isA(object, StringValue) ? table.whole(object.value as string) : undefined;
    if (span && kwargs.size === 0) {
      let n = 0;
      for (const pattern of isA(args[0], ArrayValue) ? (args[0]!.value as Value[]) : args.slice(0, 1)) {
        if (isA(pattern, StringValue)) n = Math.max(n, (pattern.value as string).length);
      }
      const part = new StringValue(name === 'startswith' ? head(span, n) : tail(span, n));
      return (part.builtins.get(name)!.value as (args: Value[], scope: unknown) => Value)(args, env);
    }
    const again = [
      ...args.map(evaluated),
      ...[...kwargs].map(([key, value]) => ({ type: 'KeywordArgumentExpression', key: { type: 'Identifier', value: key }, value: evaluated(value) })),
    ];
    return base('evaluateCallExpression', this, { ...node, args: again, callee: { ...callee, object: evaluated(object) } }, env);
  } as Method;

  it.evaluateMemberExpression = function (this: Patched, node: AstNode, env: Environment): Value {
    const object = this.evaluate!(node.object as never, env as never);
    let property = node.property as AstNode;
    if (node.computed && property.type !== 'SliceExpression') {
      const key = this.evaluate!(property as never, env as never);
      if (marked(key)) throw READ;
      property = evaluated(key);
    }
    if (marked(object)) {
      if (isA(object, StringValue)) throw READ; // its characters, a slice, a method
      if (object.value instanceof Map) {
        // A key, or a method that only moves its values (not e.g. `dictsort`, which compares them).
        const key = property.type === EVALUATED ? (property.value as Value).value : property.value;
        if (typeof key === 'string' && !object.value.has(key) && object.builtins.has(key) && !MAPPING_METHODS.has(key)) throw READ;
      }
    }
    return base('evaluateMemberExpression', this, { ...node, object: evaluated(object), property }, env);
  } as Method;

  it.evaluateArguments = function (this: Patched, args: AstNode[], env: Environment): Value {
    const result = base('evaluateArguments', this, args, env) as unknown as [Value[], Map<string, Value>];
    if (result[0].some(marked) || [...result[1].values()].some(marked)) throw READ;
    return result as unknown as Value;
  } as Method;

  it.applyFilter = function (this: Patched, operand: Value, filter: AstNode, env: Environment): Value {
    if (marked(operand)) {
      const name = filterName(filter);
      const span = isA(operand, StringValue) && filter.type === 'Identifier' ? table.whole(operand.value as string) : undefined;
      if (span && name === 'trim') {
        const kept = trimmed(span);
        return new StringValue(kept.length === 0 ? '' : table.marker(kept));
      }
      if (span && name === 'length') return new IntegerValue(span.length);
      // `join` prints its items: lists and mappings among them would print their markers' repr.
      const items = isA(operand, ArrayValue) && (name !== 'join' || (operand.value as Value[]).every((item) => isScalar(item) || !marked(item)));
      const moves = isA(operand, StringValue) ? name === 'safe' : items ? LIST_FILTERS.has(name!) : isA(operand, ObjectValue) && name === 'length';
      if (!moves) throw READ;
    }
    const result = base('applyFilter', this, operand, filter, env);
    if (filterName(filter) === 'join' && isA(operand, ArrayValue) && isA(result, StringValue)) marks.made(result, operand.value as Value[]);
    return result;
  } as Method;

  it.evaluateTestExpression = function (this: Patched, node: AstNode, env: Environment): Value {
    const operand = this.evaluate!(node.operand as never, env as never);
    if (marked(operand) && !TYPE_TESTS.has((node.test as { value: string }).value)) throw READ;
    return base('evaluateTestExpression', this, { ...node, operand: evaluated(operand) }, env);
  } as Method;

  return it;
}

/**
 * `value` with each long string of `ropes` replaced by its marker: what holds none is returned
 * as it is, what changed is copied (`Object.fromEntries` keeps an own `__proto__` key a key).
 */
function withMarkers(value: unknown, ropes: RopeMatcher, table: SpanTable, depth = 0): unknown {
  if (typeof value === 'string') {
    const rope = ropes.find(value);
    return rope ? table.marker({ pieces: rope.pieces, length: rope.text.length }) : value;
  }
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => withMarkers(item, ropes, table, depth + 1));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const entries = Object.entries(value);
  let changed = false;
  for (const entry of entries) {
    const item = withMarkers(entry[1], ropes, table, depth + 1);
    changed ||= item !== entry[1];
    entry[1] = item;
  }
  return changed ? Object.fromEntries(entries) : value;
}

/**
 * The template rendered with `context` as `renderTemplate` renders it, as parts when long values
 * of `ropes` appear in the output; rendered the plain way when the template reads them.
 */
export function renderTemplateParts(template: Template, context: Readonly<Record<string, unknown>>, ropes: readonly Rope[]): PromptText {
  if (ropes.length === 0) return renderTemplate(template, context);
  let text: PromptText | undefined;
  try {
    const table = new SpanTable();
    const marked = withMarkers(context, new RopeMatcher(ropes), table) as Record<string, unknown>;
    const output = watchingInterpreter(templateScope(marked), table).run(template.parsed);
    text = table.expand(String(output.value));
  } catch {
    // Read beyond concatenation, or failed: the plain render decides (and words any error).
  }
  return text ?? renderTemplate(template, context);
}
