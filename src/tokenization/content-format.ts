/**
 * Detects whether a chat template reads `message.content` as a string or loops over it as a list
 * of parts — vLLM's `_detect_content_format` ("auto" content format), ported to the AST of
 * `@huggingface/jinja`. vLLM passes list content to "openai" templates and joined text to
 * "string" templates, and the rendered prompt differs, so we must decide the same way:
 *
 *   1. names bound to `messages` (the global, and every `set x = messages…` transitively);
 *   2. loop variables of `for m in <one of those>` (filters, tests and slices see through);
 *   3. "openai" if some `for c in m.content` / `m['content']` loop exists, else "string".
 */
import type { ContentFormat } from './chat-messages.js';

interface AstNode {
  type: string;
  [key: string]: unknown;
}

function isNode(value: unknown): value is AstNode {
  return value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string';
}

/** Every node below `root`, depth first (object-literal keys and values included). */
function* walk(root: unknown): Generator<AstNode> {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      stack.push(...value);
    } else if (value instanceof Map) {
      for (const [key, item] of value) stack.push(key, item);
    } else if (isNode(value)) {
      yield value;
      for (const child of Object.values(value)) {
        if (child !== null && typeof child === 'object') stack.push(child);
      }
    }
  }
}

function isVar(node: unknown, name: string): boolean {
  return isNode(node) && node.type === 'Identifier' && node.value === name;
}

/** `name.key` or `name['key']`. */
function isAttr(node: unknown, name: string, key: string): boolean {
  if (!isNode(node) || node.type !== 'MemberExpression' || !isVar(node.object, name)) return false;
  const property = node.property;
  if (!isNode(property)) return false;
  return node.computed ? property.type === 'StringLiteral' && property.value === key : property.type === 'Identifier' && property.value === key;
}

/** vLLM's `_is_var_or_elems_access`: the variable (or its attribute), possibly filtered, tested or sliced. */
function isVarOrElems(node: unknown, name: string, key?: string): boolean {
  if (!isNode(node)) return false;
  switch (node.type) {
    case 'FilterExpression':
    case 'TestExpression':
      return isVarOrElems(node.operand, name, key);
    case 'SelectExpression':
      return isVarOrElems(node.lhs, name, key);
    case 'MemberExpression':
      if (node.computed && isNode(node.property) && node.property.type === 'SliceExpression') {
        return isVarOrElems(node.object, name, key);
      }
      break;
  }
  return key === undefined ? isVar(node, name) : isAttr(node, name, key);
}

/** Names that hold `messages` (or a slice/filter of it), following `set` chains. */
function messagesAliases(nodes: readonly AstNode[]): string[] {
  const names = ['messages'];
  for (let i = 0; i < names.length; i++) {
    for (const node of nodes) {
      if (node.type !== 'Set' || !isVarOrElems(node.value, names[i]!)) continue;
      const target = node.assignee;
      if (isNode(target) && target.type === 'Identifier' && typeof target.value === 'string' && !names.includes(target.value)) {
        names.push(target.value);
      }
    }
  }
  return names;
}

function loopVariables(nodes: readonly AstNode[], iterates: (iterable: unknown) => boolean): string[] {
  const names: string[] = [];
  for (const node of nodes) {
    if (node.type !== 'For' || !iterates(node.iterable)) continue;
    if (isNode(node.loopvar) && node.loopvar.type === 'Identifier' && typeof node.loopvar.value === 'string') {
      names.push(node.loopvar.value);
    }
  }
  return names;
}

/** The content format a parsed template (a `@huggingface/jinja` Program) expects. */
export function detectContentFormat(program: unknown): ContentFormat {
  const nodes = [...walk(program)];
  const messageLists = messagesAliases(nodes);
  const messageItems = loopVariables(nodes, (iterable) => messageLists.some((name) => isVarOrElems(iterable, name)));
  const contentLoops = loopVariables(nodes, (iterable) => messageItems.some((name) => isVarOrElems(iterable, name, 'content')));
  return contentLoops.length > 0 ? 'openai' : 'string';
}
