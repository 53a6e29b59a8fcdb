/**
 * A deliberately small JSON-Schema (draft-07) validator for the keywords the chart's
 * values.schema.json uses: type, properties, required, additionalProperties, enum, minimum,
 * maximum, minLength, maxLength, pattern, items and local `$ref: #/definitions/…`. A keyword it
 * does not know fails loudly, so the schema cannot silently outgrow the check.
 */

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', 'title', 'description', 'definitions', '$ref', 'type', 'properties', 'required', 'additionalProperties',
  'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'items',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Returns the problems (`path: message`); empty when the value is valid. */
export function validate(value: unknown, schema: Schema, root: Schema = schema, path = '$'): string[] {
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`json-schema-lite: unsupported keyword "${key}" at ${path}`);
  if (typeof schema.$ref === 'string') {
    const name = /^#\/definitions\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name ? (root.definitions as Record<string, Schema> | undefined)?.[name] : undefined;
    if (!target) throw new Error(`json-schema-lite: unresolved $ref ${schema.$ref}`);
    return validate(value, target, root, path);
  }
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const actual = typeOf(value);
    if (!allowed.includes(actual) && !(actual === 'integer' && allowed.includes('number'))) return [`${path}: expected ${allowed.join('|')}, got ${actual}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: must be one of ${schema.enum.join(', ')}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: must be ≥ ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: must be ≤ ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errors.push(`${path}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${path}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => errors.push(...validate(item, schema.items as Schema, root, `${path}[${i}]`)));
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in record)) errors.push(`${path}: missing required "${key}"`);
    for (const [key, item] of Object.entries(record)) {
      if (properties[key]) errors.push(...validate(item, properties[key], root, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}: unknown key "${key}"`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(item, schema.additionalProperties as Schema, root, `${path}.${key}`));
    }
  }
  return errors;
}
