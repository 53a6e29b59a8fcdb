/** `pd-router sidecar` flags, env, YAML and validation. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SIDECAR_CONFIG, decoderOrigin } from '../../sidecar/config.js';
import { buildSidecarCommand, parseSidecarArgs } from '../../sidecar/options.js';

const dir = mkdtempSync(join(tmpdir(), 'sidecar-options-'));
function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const FULL_YAML = `
port: 8100
vllm-port: 8200
data-parallel-size: 5
kv-connector: "sglang"
connector: "nixlv2"
enable-ssrf-protection: true
ssrf-allowlist: [10.0.0.1, pod-a]
enable-prefiller-sampling: true
enable-tls:
- prefiller
- decoder
prefiller-use-tls: false
tls-insecure-skip-verify:
- prefiller
decoder-tls-insecure-skip-verify: true
secure-proxy: false
cert-path: "/etc/certificates-file"
inference-pool: "file-ns/inference-pool-file"
pool-group: "pool-group-file"
max-idle-conns-per-host: 300
prefill-max-retries: 3
prefill-retry-backoff: "500ms"
prefill-timeout: "90s"
prefill-failure-policy: fallback
`;

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('defaults', () => {
  it('match upstream (newer generation for vllm-port) with pd-router additions', () => {
    const config = parseSidecarArgs([]);
    expect(config).toEqual({ ...DEFAULT_SIDECAR_CONFIG });
    expect(config.port).toBe(8000);
    expect(config.vllmPort).toBe(8200);
    expect(config.kvConnector).toBe('nixlv2');
    expect(config.secureProxy).toBe(true);
    expect(config.maxIdleConnsPerHost).toBe(1024);
    expect(config.prefillMaxRetries).toBe(0);
    expect(config.prefillRetryBackoffMs).toBe(200);
    expect(config.prefillTimeoutMs).toBe(300_000);
    expect(config.prefillFailurePolicy).toBe('relay');
    expect(config.sglangBootstrapPort).toBe(8998);
  });

  it('help lists every flag with its env var', () => {
    const help = buildSidecarCommand().helpInformation();
    for (const text of ['--vllm-port', 'SIDECAR_VLLM_PORT', 'INFERENCE_POOL', 'ENABLE_PREFILLER_SAMPLING', 'SGLANG_BOOTSTRAP_PORT', 'POD_IP', '--ssrf-allowlist', '--prefill-failure-policy']) {
      expect(help).toContain(text);
    }
    // A flag the help text refers to is listed too, marked deprecated.
    expect(help).toMatch(/--connector <value>\s+deprecated: use --kv-connector/);
  });
});

describe('flags', () => {
  it('parses every kind, both --x=v and --x v, and Go durations', () => {
    const config = parseSidecarArgs([
      '--port=8111', '--vllm-port', '8222', '--kv-connector=shared-storage', '--secure-proxy=false',
      '--enable-tls=prefiller', '--enable-tls', 'decoder', '--tls-insecure-skip-verify=prefiller,decoder',
      '--prefill-timeout=1m30s', '--prefill-max-retries=2', '--prefill-retry-backoff=50ms', '--max-idle-conns-per-host=0',
      '--enable-prefiller-sampling',
    ]);
    expect(config).toMatchObject({
      port: 8111, vllmPort: 8222, kvConnector: 'shared-storage', secureProxy: false,
      useTls: { prefiller: true, decoder: true, encoder: false },
      insecureSkipVerify: { prefiller: true, decoder: true, encoder: false },
      prefillTimeoutMs: 90_000, prefillMaxRetries: 2, prefillRetryBackoffMs: 50,
      maxIdleConnsPerHost: 1024, enablePrefillerSampling: true,
    });
  });

  it('accepts lmcache as the old name of shared-storage', () => {
    expect(parseSidecarArgs(['--kv-connector=lmcache']).kvConnector).toBe('shared-storage');
    expect(parseSidecarArgs(['--connector=lmcache']).kvConnector).toBe('shared-storage');
  });

  it('accepts EPD (--ec-connector=ec-example) and chunked decode (--decode-chunk-size ≥ 0)', () => {
    expect(parseSidecarArgs([]).ecConnector).toBe('');
    expect(parseSidecarArgs([]).decodeChunkSize).toBe(0);
    const config = parseSidecarArgs(['--ec-connector=ec-example', '--decode-chunk-size=128']);
    expect(config.ecConnector).toBe('ec-example');
    expect(config.decodeChunkSize).toBe(128);
    expect(parseSidecarArgs(['--configuration={ec-connector: ec-example, decode-chunk-size: 64}'])).toMatchObject({ ecConnector: 'ec-example', decodeChunkSize: 64 });
  });

  it('--model-server-port (newer name) wins over --vllm-port', () => {
    expect(parseSidecarArgs(['--model-server-port=9001']).vllmPort).toBe(9001);
    expect(parseSidecarArgs(['--vllm-port=9002', '--model-server-port=9001']).vllmPort).toBe(9001);
  });

  it.each([
    [['--kv-connector=foo'], /--kv-connector must be one of: nixlv2, shared-storage, sglang/],
    [['--connector=foo'], /--connector must be one of/],
    [['--enable-tls=prefiller,invalid'], /--enable-tls stages must be one of: prefiller, decoder, encoder/],
    [['--tls-insecure-skip-verify=bogus'], /--tls-insecure-skip-verify stages must be one of/],
    [['--inference-pool=a/b/c'], /not multiple slashes/],
    [['--inference-pool=/b'], /cannot have empty namespace or name/],
    [['--decode-chunk-size=-1'], /must be a non-negative integer/],
    [['--decode-chunk-size=1.5'], /not an integer|must be a non-negative integer/],
    [['--ec-connector=other'], /--ec-connector must be one of: ec-example/],
    [['--ec-connector=ec-nixl'], /--ec-connector must be one of: ec-example/],
    [['--prefill-failure-policy=retry'], /--prefill-failure-policy must be one of: fallback, relay/],
    [['--prefill-max-retries=1', '--prefill-retry-backoff=0'], /--prefill-retry-backoff must be positive/],
    [['--prefill-timeout=soon'], /invalid duration/],
    [['--port=abc'], /not an integer/],
    [['--secure-proxy=maybe'], /not a boolean/],
    [['--no-such-flag'], /unknown option/],
  ])('rejects %j', (args, message) => {
    expect(() => parseSidecarArgs(args)).toThrow(message);
  });
});

describe('deprecated flags', () => {
  it('fold the TLS booleans into the stage lists', () => {
    const config = parseSidecarArgs(['--prefiller-use-tls', '--decoder-use-tls=true', '--prefiller-tls-insecure-skip-verify', '--decoder-tls-insecure-skip-verify']);
    expect(config.useTls).toEqual({ prefiller: true, decoder: true, encoder: false });
    expect(config.insecureSkipVerify).toEqual({ prefiller: true, decoder: true, encoder: false });
  });

  it('mix with the new lists', () => {
    const config = parseSidecarArgs(['--enable-tls=prefiller', '--decoder-use-tls', '--decoder-tls-insecure-skip-verify']);
    expect(config.useTls).toEqual({ prefiller: true, decoder: true, encoder: false });
    expect(config.insecureSkipVerify).toEqual({ prefiller: false, decoder: true, encoder: false });
  });

  it('--connector applies when --kv-connector is empty; --kv-connector wins otherwise', () => {
    expect(parseSidecarArgs(['--connector=sglang']).kvConnector).toBe('sglang');
    expect(parseSidecarArgs(['--connector=sglang', '--kv-connector=nixlv2']).kvConnector).toBe('nixlv2');
  });

  it('--inference-pool-{namespace,name} are overridden by --inference-pool', () => {
    const base = ['--enable-ssrf-protection', '--ssrf-allowlist=10.0.0.1'];
    expect(parseSidecarArgs([...base, '--inference-pool-namespace=ns', '--inference-pool-name=p'])).toMatchObject({ inferencePoolNamespace: 'ns', inferencePoolName: 'p' });
    expect(parseSidecarArgs([...base, '--inference-pool-namespace=ns', '--inference-pool-name=p', '--inference-pool=other/q'])).toMatchObject({ inferencePoolNamespace: 'other', inferencePoolName: 'q' });
  });
});

describe('inference pool and SSRF', () => {
  it('a bare pool name means namespace default', () => {
    const config = parseSidecarArgs(['--inference-pool=my-pool', '--enable-ssrf-protection', '--ssrf-allowlist=a']);
    expect(config).toMatchObject({ inferencePoolNamespace: 'default', inferencePoolName: 'my-pool' });
  });

  it('SSRF protection with a static allowlist works without any pool', () => {
    const config = parseSidecarArgs(['--enable-ssrf-protection', '--ssrf-allowlist=10.0.0.1,pod-a', '--ssrf-allowlist', 'pod-b']);
    expect(config.enableSsrfProtection).toBe(true);
    expect(config.ssrfAllowlist).toEqual(['10.0.0.1', 'pod-a', 'pod-b']);
  });

  it('SSRF protection with a pool takes the allowlist from the pool', () => {
    const config = parseSidecarArgs(['--enable-ssrf-protection', '--inference-pool=ns/pool']);
    expect(config).toMatchObject({ enableSsrfProtection: true, inferencePoolNamespace: 'ns', inferencePoolName: 'pool', ssrfAllowlist: [] });
  });

  it('SSRF protection with neither fails with a clear message', () => {
    expect(() => parseSidecarArgs(['--enable-ssrf-protection'])).toThrow(/needs an allowlist: --inference-pool \[ns\/\]name .* or, without Kubernetes, --ssrf-allowlist/);
  });

  it('an allowlist without protection is an error rather than silently ignored', () => {
    expect(() => parseSidecarArgs(['--ssrf-allowlist=a'])).toThrow(/no effect without --enable-ssrf-protection/);
  });
});

describe('environment', () => {
  it('every flag has an env var, upstream names where upstream has them', () => {
    vi.stubEnv('SIDECAR_PORT', '9100');
    vi.stubEnv('SIDECAR_VLLM_PORT', '9200');
    vi.stubEnv('SIDECAR_KV_CONNECTOR', 'sglang');
    vi.stubEnv('SIDECAR_SECURE_PROXY', 'false');
    vi.stubEnv('SIDECAR_PREFILL_TIMEOUT', '10s');
    vi.stubEnv('ENABLE_PREFILLER_SAMPLING', 'true');
    vi.stubEnv('SGLANG_BOOTSTRAP_PORT', '9999');
    vi.stubEnv('POD_IP', '10.1.1.1');
    vi.stubEnv('SIDECAR_ENABLE_SSRF_PROTECTION', 'true');
    vi.stubEnv('SIDECAR_SSRF_ALLOWLIST', 'a,b');
    vi.stubEnv('INFERENCE_POOL', 'pool-only');
    expect(parseSidecarArgs([])).toMatchObject({
      port: 9100, vllmPort: 9200, kvConnector: 'sglang', secureProxy: false, prefillTimeoutMs: 10_000,
      enablePrefillerSampling: true, sglangBootstrapPort: 9999, podIp: '10.1.1.1',
      enableSsrfProtection: true, ssrfAllowlist: ['a', 'b'], inferencePoolNamespace: 'default', inferencePoolName: 'pool-only',
    });
  });

  it('the deprecated pool env vars are read', () => {
    vi.stubEnv('INFERENCE_POOL_NAMESPACE', 'test-namespace');
    vi.stubEnv('INFERENCE_POOL_NAME', 'test-pool');
    expect(parseSidecarArgs(['--enable-ssrf-protection', '--ssrf-allowlist=x'])).toMatchObject({ inferencePoolNamespace: 'test-namespace', inferencePoolName: 'test-pool' });
  });

  it('flags beat env', () => {
    vi.stubEnv('SIDECAR_PORT', '9100');
    expect(parseSidecarArgs(['--port=9101']).port).toBe(9101);
  });
});

describe('YAML configuration', () => {
  const inline = `{
    port: 8011, vllm-port: 8021, data-parallel-size: 3, kv-connector: sglang, connector: nixlv2,
    enable-ssrf-protection: true, ssrf-allowlist: ['p1'], enable-prefiller-sampling: true,
    enable-tls: ['prefiller', 'decoder'], prefiller-use-tls: false, decoder-use-tls: true,
    tls-insecure-skip-verify: ['decoder'], prefiller-tls-insecure-skip-verify: true,
    secure-proxy: false, cert-path: '/etc/certificates-inline', inference-pool: inline-ns/inference-pool-inline,
    pool-group: pool-group-inline, max-idle-conns-per-host: 200, prefill-retry-backoff: '300ms'
  }`;

  it('inline YAML overrides defaults', () => {
    expect(parseSidecarArgs([`--configuration=${inline}`])).toMatchObject({
      port: 8011, vllmPort: 8021, dataParallelSize: 3, kvConnector: 'sglang',
      enableSsrfProtection: true, ssrfAllowlist: ['p1'], enablePrefillerSampling: true,
      useTls: { prefiller: true, decoder: true, encoder: false },
      insecureSkipVerify: { prefiller: true, decoder: true, encoder: false },
      secureProxy: false, certPath: '/etc/certificates-inline',
      inferencePoolNamespace: 'inline-ns', inferencePoolName: 'inference-pool-inline', poolGroup: 'pool-group-inline',
      maxIdleConnsPerHost: 200, prefillRetryBackoffMs: 300,
    });
  });

  it('file YAML overrides defaults', () => {
    expect(parseSidecarArgs([`--configuration-file=${yamlFile('valid.yaml', FULL_YAML)}`])).toMatchObject({
      port: 8100, vllmPort: 8200, dataParallelSize: 5, kvConnector: 'sglang',
      useTls: { prefiller: true, decoder: true, encoder: false },
      insecureSkipVerify: { prefiller: true, decoder: true, encoder: false },
      secureProxy: false, certPath: '/etc/certificates-file', inferencePoolNamespace: 'file-ns', inferencePoolName: 'inference-pool-file',
      poolGroup: 'pool-group-file', maxIdleConnsPerHost: 300, prefillMaxRetries: 3, prefillRetryBackoffMs: 500,
      prefillTimeoutMs: 90_000, prefillFailurePolicy: 'fallback',
    });
  });

  it('flags override YAML; YAML overrides env', () => {
    vi.stubEnv('SIDECAR_POOL_GROUP', 'from-env');
    vi.stubEnv('SIDECAR_MAX_IDLE_CONNS_PER_HOST', '7');
    const config = parseSidecarArgs([
      `--configuration-file=${yamlFile('precedence.yaml', FULL_YAML)}`,
      '--port=8111', '--vllm-port=8222', '--data-parallel-size=2', '--enable-tls=prefiller', '--tls-insecure-skip-verify=prefiller',
      '--secure-proxy=true', '--inference-pool=ns/inference-pool', '--kv-connector=nixlv2',
    ]);
    expect(config).toMatchObject({
      port: 8111, vllmPort: 8222, dataParallelSize: 2, kvConnector: 'nixlv2', secureProxy: true,
      // --enable-tls on the command line also blocks the deprecated YAML booleans
      useTls: { prefiller: true, decoder: false, encoder: false },
      insecureSkipVerify: { prefiller: true, decoder: false, encoder: false },
      inferencePoolNamespace: 'ns', inferencePoolName: 'inference-pool',
      poolGroup: 'pool-group-file', maxIdleConnsPerHost: 300,
    });
  });

  it('zero values in YAML are ignored (prefill-max-retries excepted, as upstream)', () => {
    vi.stubEnv('SIDECAR_PREFILL_MAX_RETRIES', '4');
    const config = parseSidecarArgs(['--configuration={port: 0, cert-path: "", enable-tls: [], prefill-max-retries: 0}', '--vllm-port=9000']);
    expect(config.port).toBe(8000);
    expect(config.prefillMaxRetries).toBe(0);
  });

  it.each([
    ['{port: 8200, invalid-yaml}', /failed to unmarshal sidecar configuration/],
    ['{port: "8200"}', /failed to unmarshal sidecar configuration: port: expected an integer/],
    ['{secure-proxy: 1}', /expected a boolean/],
    ['[1, 2]', /expected a mapping/],
    ['{inference-pool-name: x}', /unknown field "inference-pool-name"/],
  ])('rejects inline YAML %s', (text, message) => {
    expect(() => parseSidecarArgs([`--configuration=${text}`])).toThrow(message);
  });

  it('rejects a bad YAML file and unknown keys', () => {
    expect(() => parseSidecarArgs([`--configuration-file=${yamlFile('invalid.yaml', 'port: 8100\ninvalid-yaml,\n')}`])).toThrow(/failed to unmarshal sidecar configuration/);
    expect(() => parseSidecarArgs([`--configuration-file=${yamlFile('unknown.yaml', 'port: 8100\nunknown-key: 1001\n')}`])).toThrow(/failed to unmarshal sidecar configuration: unknown field "unknown-key"/);
    expect(() => parseSidecarArgs([`--configuration-file=${join(dir, 'missing.yaml')}`])).toThrow(/failed to read sidecar configuration from file/);
  });

  it('rejects inline and file configuration together', () => {
    expect(() => parseSidecarArgs(['--configuration={port: 1}', `--configuration-file=${yamlFile('x.yaml', 'port: 2')}`])).toThrow('flags --configuration and --configuration-file are mutually exclusive');
  });
});

describe('decoder URL', () => {
  it('follows decoder TLS', () => {
    expect(decoderOrigin(parseSidecarArgs(['--vllm-port=8001']), 8001)).toBe('http://localhost:8001');
    expect(decoderOrigin(parseSidecarArgs(['--enable-tls=decoder', '--vllm-port=9000']), 9000)).toBe('https://localhost:9000');
    expect(decoderOrigin(parseSidecarArgs(['--decoder-use-tls']), 8200)).toBe('https://localhost:8200');
    expect(decoderOrigin(parseSidecarArgs(['--enable-tls=prefiller']), 8200)).toBe('http://localhost:8200');
    expect(decoderOrigin(parseSidecarArgs(['--vllm-host=::1']), 8200)).toBe('http://[::1]:8200');
  });
});
