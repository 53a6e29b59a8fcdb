/**
 * Marks of long values in a template render (rope-render.ts): which runtime values of
 * `@huggingface/jinja` hold a marker, and how long a string is once its markers are expanded.
 * The interpreter's value classes are found from values it converts (checked at load).
 */
import { Environment } from '@huggingface/jinja';
import { MARK, MAX_STRING_LENGTH, type SpanTable } from './rope-spans.js';

export type Value = { type: string; value: unknown; toString(): string; builtins: Map<string, Value> };
export type ValueClass = new (value?: unknown) => Value;

/** A runtime value class of the interpreter, found from a value it converts. */
function runtimeClass(sample: unknown, type: string): ValueClass {
  const scope = new Environment();
  scope.set('sample', sample);
  const value = scope.lookupVariable('sample') as unknown as Value;
  if (value.type !== type) throw new Error(`@huggingface/jinja changed: ${typeof sample} became ${value.type}, not ${type}`);
  return value.constructor as ValueClass;
}

export const StringValue = runtimeClass('', 'StringValue');
export const ArrayValue = runtimeClass([], 'ArrayValue');
export const ObjectValue = runtimeClass({}, 'ObjectValue');
export const IntegerValue = runtimeClass(0, 'IntegerValue');
export const BooleanValue = runtimeClass(true, 'BooleanValue');

/** Deeper structures are treated as marked (they are not chat messages). */
export const MAX_DEPTH = 32;

/** `instanceof`, without narrowing (every class here makes a `Value`). */
export const isA = (value: unknown, type: ValueClass): boolean => value instanceof type;

/** Thrown to stop a render that read a marked value. */
export const READ = new Error('a long value was read beyond concatenation');

export const isScalar = (value: Value): boolean => isA(value, StringValue) || value.type === 'IntegerValue' || value.type === 'FloatValue' || value.type === 'BooleanValue';

/** What is known of a string value: whether it holds a marker, and how much longer it is expanded. */
interface StringMarks {
  readonly marked: boolean;
  readonly extra: number;
}

/** What is known of a list or mapping: whether it holds a marker, and whether a namespace inside could change that. */
interface ContainerMarks {
  readonly marked: boolean;
  readonly volatile: boolean;
  readonly generation: number;
}

/**
 * Whether values hold a marker anywhere: strings by their text, lists and mappings (namespaces
 * included) by their items. Each value is looked at once: a string made by concatenation gets its
 * marks from its operands (and is refused past V8's longest string, where the plain render
 * fails), and a list or mapping's answer is remembered — for good unless it holds a namespace
 * (the only value a template can change), else until a namespace attribute is assigned. Whether
 * a template tests `messages` in its loop over them or grows a string message by message, the
 * cost stays what the plain render's is.
 */
export class Marks {
  private generation = 0;
  private readonly strings = new WeakMap<object, StringMarks>();
  private readonly containers = new WeakMap<object, ContainerMarks>();

  constructor(private readonly table: SpanTable) {}

  /** A namespace attribute was assigned: answers for values holding a namespace may be stale. */
  changed(): void {
    this.generation++;
  }

  of(value: Value): boolean {
    return this.container(value, 0).marked;
  }

  /** A string value's marks (from its text the first time). */
  string(value: Value): StringMarks {
    let known = this.strings.get(value);
    if (!known) {
      const text = value.value as string;
      known = { marked: text.includes(MARK), extra: this.table.extraLength(text) };
      this.strings.set(value, known);
    }
    return known;
  }

  /** Records the marks of `made`, the concatenation of `parts`; READ when it is too long to be a string. */
  made(made: Value, parts: Iterable<Value>): void {
    let marked = false;
    let extra = 0;
    for (const part of parts) {
      if (!isA(part, StringValue)) continue;
      const known = this.string(part);
      marked ||= known.marked;
      extra += known.extra;
    }
    if ((made.value as string).length + extra > MAX_STRING_LENGTH) throw READ;
    this.strings.set(made, { marked, extra });
  }

  private container(value: Value, depth: number): { marked: boolean; volatile: boolean } {
    if (isA(value, StringValue)) return { marked: this.string(value).marked, volatile: false };
    const inner = value.value;
    if (!Array.isArray(inner) && !(inner instanceof Map)) return { marked: false, volatile: false };
    if (depth > MAX_DEPTH) return { marked: true, volatile: false }; // (a "marked" kept too long only renders plain)
    const known = this.containers.get(value);
    if (known && (!known.volatile || known.generation === this.generation)) return known;
    let marked = false;
    let volatile = value.type === 'NamespaceValue';
    if (inner instanceof Map) for (const key of inner.keys()) marked ||= (key as string).includes(MARK);
    for (const item of (Array.isArray(inner) ? inner : inner.values()) as Iterable<Value>) {
      if (marked) break;
      const answer = this.container(item, depth + 1);
      marked = answer.marked;
      volatile ||= answer.volatile;
    }
    this.containers.set(value, { marked, volatile, generation: this.generation });
    return { marked, volatile };
  }
}
