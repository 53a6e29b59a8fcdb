/** Prefill header parsing and the SSRF allowlist. */
import { describe, expect, it } from 'vitest';
import { ALLOW_ALL, StaticAllowlist, type TargetAllowlist } from '../../sidecar/allowlist.js';
import { parseHostPort } from '../../src/wire/host-port.js';
import { choosePrefillTarget, encoderTargets } from '../../sidecar/prefill-target.js';
import { bootstrapRoom, sglangBody } from '../../sidecar/connectors/sglang.js';

const first = (): number => 0;
const last = (): number => 0.999;

describe('choosePrefillTarget', () => {
  it('no header or an empty one → no P/D', () => {
    expect(choosePrefillTarget(undefined, false, first).target).toBe('');
    expect(choosePrefillTarget('', false, first).target).toBe('');
    expect(choosePrefillTarget('', true, last).target).toBe('');
  });

  it('takes the first entry without sampling', () => {
    expect(choosePrefillTarget('a', false, last)).toEqual({ target: 'a', candidates: 1 });
    expect(choosePrefillTarget('a,b', false, last)).toEqual({ target: 'a', candidates: 2 });
  });

  it('samples with the injected random source and trims', () => {
    expect(choosePrefillTarget('a,b', true, first).target).toBe('a');
    expect(choosePrefillTarget('a,b', true, last).target).toBe('b');
    expect(choosePrefillTarget(' a, b', true, first).target).toBe('a');
    expect(choosePrefillTarget(' a, b', true, last).target).toBe('b');
    expect(choosePrefillTarget('a,a', true, last).target).toBe('a');
  });

  it('handles two header lines (Node joins them with ", ") and arrays', () => {
    expect(choosePrefillTarget('a, b', true, last).target).toBe('b');
    expect(choosePrefillTarget(['a', 'b'], true, last).target).toBe('b');
    expect(choosePrefillTarget(['a', 'b'], false, last).target).toBe('a');
  });

  it('"" and "","" (empty values) → no P/D', () => {
    expect(choosePrefillTarget(', ', true, first).target).toBe('');
    expect(choosePrefillTarget(['', ''], true, last).target).toBe('');
  });

  it('splits encoder lists and drops empty entries', () => {
    expect(encoderTargets(' e1:1, ,e2:2')).toEqual(['e1:1', 'e2:2']);
    expect(encoderTargets(undefined)).toEqual([]);
  });
});

/** The sidecar's order: parse strictly, then check the parsed value; what does not parse is refused. */
function allowed(list: TargetAllowlist, value: string): boolean {
  const target = parseHostPort(value);
  return target !== undefined && list.isAllowed(target);
}

describe('SSRF allowlist', () => {
  it('off → every well-formed target is allowed; malformed ones never parse', () => {
    expect(allowed(ALLOW_ALL, 'malicious.example.com:8080')).toBe(true);
    expect(allowed(ALLOW_ALL, 'http://evil.host/ssrf')).toBe(false);
  });

  it('on → IP, pod name and FQDN on any port; others denied', () => {
    const list = new StaticAllowlist(['10.244.1.100', 'valid-pod', 'valid-pod.test-namespace.svc.cluster.local']);
    for (const ok of ['10.244.1.100:8000', '10.244.1.100:8001', 'valid-pod:8000', 'valid-pod:9999', 'valid-pod.test-namespace.svc.cluster.local:8000', 'Valid-Pod:1']) {
      expect(allowed(list, ok), ok).toBe(true);
    }
    for (const bad of ['malicious.example.com:8080', '10.0.0.1:8000', 'evil-pod:8000', 'http://10.244.1.100:8000', '', 'valid-pod']) {
      expect(allowed(list, bad), bad).toBe(false);
    }
  });

  it('userinfo, whitespace and junk around an allowed host are refused (they would dial another host)', () => {
    const list = new StaticAllowlist(['10.0.0.7', 'a']);
    for (const bad of ['10.0.0.7:80@127.0.0.4', 'a:@evil', 'a:80 @evil', 'a:x@evil', '10.0.0.7:80/@127.0.0.4', '10.0.0.7:80#@x', ' 10.0.0.7:80', '10.0.0.7:0']) {
      expect(parseHostPort(bad), bad).toBeUndefined();
      expect(allowed(list, bad), bad).toBe(false);
    }
  });

  it('normalises IPv6 spellings on both sides', () => {
    const list = new StaticAllowlist(['[0:0:0:0:0:0:0:1]:8000', 'FD00::A']);
    expect(allowed(list, '[::1]:8200')).toBe(true);
    expect(allowed(list, '[fd00:0:0:0:0:0:0:a]:80')).toBe(true);
    expect(allowed(list, '[::2]:8200')).toBe(false);
  });

  it('an allowlist entry that is not a host fails loudly at start-up', () => {
    expect(() => new StaticAllowlist(['10.0.0.7:80@127.0.0.4'])).toThrow(/ssrf-allowlist/);
    expect(() => new StaticAllowlist(['http://h'])).toThrow(/ssrf-allowlist/);
  });
});

describe('sglang bootstrap fields', () => {
  it('keeps a bootstrap_room above 2^53 exact on the wire', () => {
    const room = bootstrapRoom(() => 0.5);
    expect(room > 2n ** 53n).toBe(true);
    const body = sglangBody('{"model":"m","stream":true}', '10.0.0.1', 8998, room);
    expect(body).toBe(`{"model":"m","stream":true,"bootstrap_host":"10.0.0.1","bootstrap_port":8998,"bootstrap_room":${room.toString()}}`);
    expect(BigInt(/"bootstrap_room":(\d+)/.exec(body)![1]!)).toBe(room);
  });
});
