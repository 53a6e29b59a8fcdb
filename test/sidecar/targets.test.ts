/** Prefill header parsing (spec §10.8) and the SSRF allowlist (spec §10.11). */
import { describe, expect, it } from 'vitest';
import { ALLOW_ALL, StaticAllowlist, canonicalHost, hostOf } from '../../sidecar/allowlist.js';
import { choosePrefillTarget, encoderTargets } from '../../sidecar/prefill-target.js';
import { bootstrapHost, bootstrapRoom, sglangBody } from '../../sidecar/connectors/sglang.js';

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

describe('SSRF allowlist', () => {
  it('off → everything is allowed, even non host:port values', () => {
    expect(ALLOW_ALL.isAllowed('malicious.example.com:8080')).toBe(true);
    expect(ALLOW_ALL.isAllowed('http://evil.host/ssrf')).toBe(true);
  });

  it('on → IP, pod name and FQDN on any port; others denied', () => {
    const list = new StaticAllowlist(['10.244.1.100', 'valid-pod', 'valid-pod.test-namespace.svc.cluster.local']);
    for (const ok of ['10.244.1.100:8000', '10.244.1.100:8001', 'valid-pod:8000', 'valid-pod:9999', 'valid-pod.test-namespace.svc.cluster.local:8000', 'Valid-Pod:1', 'valid-pod']) {
      expect(list.isAllowed(ok), ok).toBe(true);
    }
    for (const bad of ['malicious.example.com:8080', '10.0.0.1:8000', 'evil-pod:8000', 'http://10.244.1.100:8000', '']) {
      expect(list.isAllowed(bad), bad).toBe(false);
    }
  });

  it('normalises IPv6 spellings on both sides', () => {
    expect(hostOf('[::1]:8000')).toBe('::1');
    expect(hostOf('::1')).toBe('::1');
    expect(hostOf('10.0.0.1:80')).toBe('10.0.0.1');
    expect(hostOf('valid-pod')).toBe('valid-pod');
    expect(hostOf('http://h:1')).toBe('http://h:1');
    expect(canonicalHost('0:0:0:0:0:0:0:1')).toBe('::1');
    const list = new StaticAllowlist(['[0:0:0:0:0:0:0:1]:8000', 'FD00::A']);
    expect(list.isAllowed('[::1]:8200')).toBe(true);
    expect(list.isAllowed('[fd00:0:0:0:0:0:0:a]:80')).toBe(true);
    expect(list.isAllowed('[::2]:8200')).toBe(false);
  });
});

describe('sglang bootstrap fields', () => {
  it('takes the host of the target (IPv6 and http:// prefixes handled)', () => {
    expect(bootstrapHost('10.0.0.1:8000')).toBe('10.0.0.1');
    expect(bootstrapHost('http://10.0.0.1:8000')).toBe('10.0.0.1');
    expect(bootstrapHost('[fd00::1]:8000')).toBe('fd00::1');
    expect(bootstrapHost('pod-a')).toBe('pod-a');
  });

  it('keeps a bootstrap_room above 2^53 exact on the wire', () => {
    const room = bootstrapRoom(() => 0.5);
    expect(room > 2n ** 53n).toBe(true);
    const body = sglangBody('{"model":"m","stream":true}', '10.0.0.1:8000', 8998, room);
    expect(body).toBe(`{"model":"m","stream":true,"bootstrap_host":"10.0.0.1","bootstrap_port":8998,"bootstrap_room":${room.toString()}}`);
    expect(BigInt(/"bootstrap_room":(\d+)/.exec(body)![1]!)).toBe(room);
  });
});
