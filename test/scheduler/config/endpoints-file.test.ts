/** Endpoints-file errors name the file, the entry and the line; role-label slips are warned about by endpoint. */
import { describe, expect, it } from 'vitest';
import { parseEndpointsFile } from '../../../scheduler/datalayer/static-file.js';
import { ConfigError } from '../../../scheduler/framework/errors.js';

function errorOf(text: string): ConfigError {
  try {
    parseEndpointsFile(text, 'eps.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('parsed');
}

function warningsOf(text: string): string[] {
  const warnings: string[] = [];
  parseEndpointsFile(text, 'eps.yaml', { warn: ((_obj: unknown, message: string) => warnings.push(message)) as never });
  return warnings;
}

describe('endpoints file errors', () => {
  it('a top-level list says where the entries belong, naming the file', () => {
    expect(errorOf('- name: a\n  address: 10.0.0.1\n  port: 8000\n').message).toBe('eps.yaml: the file is a list; put the entries under a top-level `endpoints:` key (see docs/endpoints-file.md) (line 1)');
  });

  it('a bad field names file, entry path and line', () => {
    const err = errorOf('endpoints:\n- name: a\n  address: 10.0.0.1\n  port: 8000\n- name: b\n  address: 10.0.0.2\n  port: 0\n');
    expect(err.path).toEqual(['endpoints', 1, 'port']);
    expect(err.file).toBe('eps.yaml');
    expect(err.line).toBe(7);
    expect(err.message).toMatch(/^eps\.yaml: endpoints\[1\]\.port: .* \(line 7\)$/);
  });

  it('unknown fields list the known ones; missing ones say so', () => {
    expect(errorOf('endpoints:\n- {name: a, address: x, port: 1, prot: 2}\n').message).toBe('eps.yaml: endpoints[0].prot: unknown field "prot" (known: name, namespace, address, port, labels, metricsPort) (line 2)');
    expect(errorOf('endpoints:\n- {name: a, port: 1}\n').message).toBe('eps.yaml: endpoints[0].address: required field is missing (line 2)');
    expect(errorOf('endpoints:\n- {name: a, address: x, port: 1}\n- {name: a, address: y, port: 2}\n').message).toBe('eps.yaml: endpoints[1].name: duplicate endpoint name "a" (line 3)');
  });

  it('a good file parses without warnings (control)', () => {
    expect(warningsOf('endpoints:\n- {name: p, address: x, port: 1, labels: {llm-d.ai/role: prefill}}\n- {name: d, address: y, port: 2, labels: {llm-d.ai/role: decode}}\n')).toEqual([]);
  });

  it('warns about an unknown role and a bare role label, naming the endpoint', () => {
    const warnings = warningsOf('endpoints:\n- {name: p, address: x, port: 1, labels: {llm-d.ai/role: prefil}}\n- {name: d, address: y, port: 2, labels: {role: decode}}\n');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^endpoint "p": llm-d\.ai\/role: "prefil" is not a known role/);
    expect(warnings[1]).toBe('endpoint "d": label "role" is not the role label; did you mean "llm-d.ai/role: decode"? Without llm-d.ai/role the endpoint is treated as unlabeled (decode)');
  });
});
