import { describe, expect, it } from 'vitest';
import { canonicalHost, joinHostPort, parseHostPort } from '../../src/wire/host-port.js';

describe('parseHostPort', () => {
  it.each([
    ['10.0.0.7:8000', { host: '10.0.0.7', port: 8000 }],
    ['Prefill-0.NS.svc:80', { host: 'prefill-0.ns.svc', port: 80 }],
    ['[::1]:8000', { host: '::1', port: 8000 }],
    ['[0:0:0:0:0:0:0:1]:1', { host: '::1', port: 1 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
  ])('accepts %s', (value, expected) => {
    expect(parseHostPort(value)).toEqual(expected);
  });

  it.each([
    '10.0.0.7:80@127.0.0.4', 'a:@evil', 'a:80 @evil', 'a:x@evil', 'user@a:80', 'a:80/path', 'a:80?q', 'a:80#f',
    ' a:80', 'a:80 ', 'a :80', 'a:0', 'a:65536', 'a:+80', 'a:0x50', 'a', ':80', 'a:', '::1:80', '[::1]', '[::1]80',
    '[a.b]:80', 'http://a:80', 'a%2e:80', '1.2.3:80', '1.2.3.256:80', '-a:80', 'a_b:80', '',
  ])('rejects %j', (value) => {
    expect(parseHostPort(value)).toBeUndefined();
  });
});

describe('joinHostPort / canonicalHost', () => {
  it('brackets IPv6 literals once', () => {
    expect(joinHostPort('::1', 80)).toBe('[::1]:80');
    expect(joinHostPort('[::1]', 80)).toBe('[::1]:80');
    expect(joinHostPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });
  it('canonicalizes case and IPv6 spelling', () => {
    expect(canonicalHost('[0:0::1]')).toBe('::1');
    expect(canonicalHost('Pod.Example')).toBe('pod.example');
    expect(canonicalHost('a b')).toBeUndefined();
  });
});
