import { afterEach, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { ADMIN_CONFIGURABLE, applyAdminUpdate, configView } from '../../src/sim/admin-config.js';
import { completeConfig, ConfigError } from '../../src/sim/config.js';
import { CONFIG_FIELDS, envName } from '../../src/sim/config-fields.js';
import { resolveConfig, type ResolvedConfig } from '../../src/sim/config-sources.js';
import { formatGoDuration } from '../../src/sim/go-duration.js';
import { addSimCommand } from '../../src/sim/options.js';
import { rankConfigs } from '../../src/sim/main.js';

const savedEnv = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

/** Parses `pd-router sim …` with the real flag definitions, without starting anything. */
async function parse(args: string[], options: { env?: Record<string, string>; yaml?: string } = {}): Promise<ResolvedConfig> {
  for (const [key, value] of Object.entries(options.env ?? {})) process.env[key] = value;
  const program = new Command('pd-router').exitOverride();
  addSimCommand(program);
  const sim = program.commands.find((command) => command.name() === 'sim')!;
  sim.exitOverride();
  let resolved: ResolvedConfig | undefined;
  sim.action((values: Record<string, unknown>, cmd: Command) => {
    resolved = resolveConfig({
      values,
      source: (attribute) => cmd.getOptionValueSource(attribute) as never,
      configText: options.yaml,
      env: { POD_IP: '10.0.0.7', ...options.env },
    });
  });
  await program.parseAsync(['sim', ...args], { from: 'user' });
  return resolved!;
}

describe('configuration sources', () => {
  it('defaults', async () => {
    const { config } = await parse(['--model', 'm', '--seed', '5']);
    expect(config).toMatchObject({
      model: 'm', servedModelNames: ['m'], port: 8000, host: '0.0.0.0', maxNumSeqs: 5, maxWaitingQueueLength: 1000,
      maxModelLen: 1024, maxLoras: 1, maxCpuLoras: 1, mode: 'random', seed: 5n, kvCacheSize: 1024, blockSize: 16,
      hashSeed: '', timeFactorUnderLoad: 1, latencyCalculator: '', enableKvcache: false, role: 'both', podIp: '10.0.0.7',
      maxRequestBodySizeMb: 4, latencyWholeMs: true, failureTypes: [],
    });
  });

  it('precedence: flag > env > YAML > default', async () => {
    const yaml = 'model: from-yaml\nmax-num-seqs: 7\nmax-model-len: 2048\ntime-to-first-token: 250ms\n';
    expect((await parse([], { yaml })).config).toMatchObject({ model: 'from-yaml', maxNumSeqs: 7, maxModelLen: 2048, timeToFirstToken: 250 });
    const env = { SIM_MODEL: 'from-env', SIM_MAX_NUM_SEQS: '9' };
    expect((await parse([], { yaml, env })).config).toMatchObject({ model: 'from-env', maxNumSeqs: 9, maxModelLen: 2048 });
    expect((await parse(['--model', 'flag', '--max-num-seqs', '3'], { yaml, env })).config).toMatchObject({ model: 'flag', maxNumSeqs: 3, maxModelLen: 2048 });
  });

  it('PYTHONHASHSEED is the env var of --hash-seed', async () => {
    expect((await parse(['--model', 'm'], { env: { PYTHONHASHSEED: '42' } })).config.hashSeed).toBe('42');
    expect((await parse(['--model', 'm', '--hash-seed', '7'], { env: { PYTHONHASHSEED: '42' } })).config.hashSeed).toBe('7');
  });

  it('list flags take space-separated values after one flag, or commas; env lists too', async () => {
    const { config } = await parse(['--model', 'm', '--served-model-name', 'a', 'b', '--failure-types', 'rate_limit,server_error', '--port', '0']);
    expect(config.servedModelNames).toEqual(['a', 'b']);
    expect(config.failureTypes).toEqual(['rate_limit', 'server_error']);
    expect(config.port).toBe(0);
    const fromEnv = await parse(['--model', 'm'], { env: { SIM_FAILURE_TYPES: 'invalid_api_key model_not_found', SIM_SERVED_MODEL_NAME: 'x,y' } });
    expect(fromEnv.config.failureTypes).toEqual(['invalid_api_key', 'model_not_found']);
    expect(fromEnv.config.servedModelNames).toEqual(['x', 'y']);
  });

  it('Go durations, booleans, LoRA modules, fake metrics', async () => {
    const { config } = await parse([
      '--model', 'm', '--inter-token-latency', '1.5s', '--time-to-first-token', '1m30s', '--enable-kvcache', '--latency-whole-ms=false',
      '--lora-modules', '{"name":"l1","path":"/p1"}', '{"name":"l2"}', '--fake-metrics', '{"running-requests":3,"kv-cache-usage":"oscillate:0:1:10s"}',
    ]);
    expect(config.interTokenLatency).toBe(1500);
    expect(config.timeToFirstToken).toBe(90_000);
    const frontend = (await parse(['--model', 'm', '--engine-model', 'step', '--frontend-overhead', '2ms', '--frontend-prompt-token-overhead', '1us', '--frontend-token-overhead', '7.7µs'])).config;
    expect([frontend.frontendOverhead, frontend.frontendPromptTokenOverhead, frontend.frontendTokenOverhead]).toEqual([2, 0.001, expect.closeTo(0.0077, 9)]);
    expect(config.enableKvcache).toBe(true);
    expect(config.latencyWholeMs).toBe(false);
    expect(config.loraModules).toEqual([{ name: 'l1', path: '/p1', base_model_name: '' }, { name: 'l2', path: '', base_model_name: '' }]);
    expect(config.fakeMetrics).toEqual({
      runningRequests: { kind: 'fixed', value: 3 },
      kvCacheUsage: { kind: 'function', name: 'oscillate', start: 0, end: 1, periodMs: 10_000 },
    });
  });

  it('YAML: durations as strings or Go nanoseconds, lists as sequences; unknown keys are warnings', async () => {
    const yaml = 'model: m\ninter-token-latency: 5000000\nfailure-types: [rate_limit]\nserved-model-name:\n  - a\n  - b\nzmq-endpoint: tcp://x:1\nrender-service-url: http://r\n';
    const { config, warnings } = await parse([], { yaml });
    expect(config.interTokenLatency).toBe(5);
    expect(config.failureTypes).toEqual(['rate_limit']);
    expect(config.servedModelNames).toEqual(['a', 'b']);
    expect(config.zmqEndpoint).toBe('tcp://x:1');
    expect(warnings).toEqual([expect.stringContaining("'render-service-url'")]);
  });

  it('accepts and ignores vLLM flags', async () => {
    await expect(parse(['--model', 'm', '--tensor-parallel-size', '2', '--no-enforce-eager', '--enable-prefix-caching'])).resolves.toBeDefined();
    await expect(parse(['--model', 'm', '--enforce-eager', '--no-enable-prefix-caching'])).resolves.toBeDefined();
  });

  it('unknown flags are an error', async () => {
    await expect(parse(['--model', 'm', '--no-such-flag'])).rejects.toThrow(/unknown option/);
  });

  it('validation errors carry upstream wording', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /model parameter is empty/],
      [['--model', 'm', '--time-to-first-token', '100ms', '--time-to-first-token-std-dev', '31ms'], /cannot be more than 30%/],
      [['--model', 'm', '--inter-token-latency', '-1ms'], /inter token latency cannot be negative/],
      [['--model', 'm', '--block-size', '7'], /token block size should be one of/],
      [['--model', 'm', '--failure-types', 'nope'], /invalid failure type 'nope'/],
      [['--model', 'm', '--time-factor-under-load', '0.5'], /time factor under load cannot be less than 1.0/],
      [['--model', 'm', '--max-num-seqs', '0'], /max num seqs cannot be less than 1/],
      [['--model', 'm', '--global-cache-hit-threshold', '2'], /global cache hit threshold/],
      [['--model', 'm', '--failure-injection-rate', '101'], /failure injection rate/],
      [['--model', 'm', '--latency-calculator', 'fast'], /latency-calculator/],
      [['--model', 'm', '--max-num-seqs', 'x'], /max-num-seqs: "x" is not an integer/],
      [['--model', 'm', '--inter-token-latency', '5'], /inter-token-latency/],
      [['--model', 'm', '--mode', 'loud'], /mode/],
      [['--model', 'm', '--engine-model', 'step', '--frontend-token-overhead', '-1us'], /frontend-token-overhead cannot be negative/],
      [['--model', 'm', '--hardware', 'h200', '--kv-transfer-latency', '1ms'], /hardware, kv-transfer-latency: only the step engine reads these settings and the engine model is 'latency'/],
      [['--model', 'm', '--frontend-overhead', '2'], /frontend-overhead/],
    ];
    for (const [args, message] of cases) await expect(parse(args), args.join(' ')).rejects.toThrow(message);
  });

  it('the KV cache needs POD_IP', () => {
    expect(() => completeConfig({ model: 'm', enableKvcache: true })).toThrow(ConfigError);
    expect(() => completeConfig({ model: 'm', enableKvcache: true, podIp: '1.2.3.4' })).not.toThrow();
  });

  it('--help lists every flag with its env var', async () => {
    const program = new Command('pd-router');
    addSimCommand(program);
    const help = program.commands.find((command) => command.name() === 'sim')!.helpInformation();
    for (const field of CONFIG_FIELDS) {
      expect(help).toContain(`--${field.flag}`);
      expect(help).toContain(`env: ${envName(field)}`);
    }
    expect(help).toContain('env: SIM_MODEL');
    expect(help).toContain('env: PYTHONHASHSEED');
    expect(help).toContain('env: SIM_CONFIG');
  });
});

describe('admin config', () => {
  const base = completeConfig({ model: 'm', seed: 1n, servedModelNames: ['alias', 'm'] });

  it('shows flag-named keys with Go durations', () => {
    const view = configView({ ...base, interTokenLatency: 250, timeToFirstToken: 1500 });
    expect(view).toMatchObject({ model: 'm', 'served-model-name': ['alias', 'm'], 'inter-token-latency': '250ms', 'time-to-first-token': '1.5s', seed: 1, 'fake-metrics': null });
  });

  it('applies partial updates of latency and failure keys', () => {
    const next = applyAdminUpdate(base, { 'time-to-first-token': '250ms', 'inter-token-latency': 2_000_000, 'failure-injection-rate': 50, 'failure-types': ['server_error'], 'latency-calculator': 'constant' });
    expect(next).toMatchObject({ timeToFirstToken: 250, interTokenLatency: 2, failureInjectionRate: 50, failureTypes: ['server_error'], latencyCalculator: 'constant' });
    expect(base.timeToFirstToken).toBe(0);
  });

  it('rejects other keys and invalid values', () => {
    expect(() => applyAdminUpdate(base, { model: 'x' })).toThrow(/not admin-configurable/);
    expect(() => applyAdminUpdate(base, { 'time-to-first-token': 'soon' })).toThrow(/invalid duration/);
    expect(() => applyAdminUpdate(base, { 'time-to-first-token': '10ms', 'time-to-first-token-std-dev': '5ms' })).toThrow(/30%/);
    expect(() => applyAdminUpdate(base, { 'fake-metrics': { 'running-requests': 1 } })).toThrow(/reporting real metrics/);
    expect(ADMIN_CONFIGURABLE.has('max-num-seqs')).toBe(false);
  });

  it('merges fake-metrics updates', () => {
    const fake = completeConfig({ model: 'm', fakeMetrics: { runningRequests: { kind: 'fixed', value: 1 } } });
    expect(applyAdminUpdate(fake, { 'fake-metrics': { 'waiting-requests': 4 } }).fakeMetrics).toEqual({
      runningRequests: { kind: 'fixed', value: 1 }, waitingRequests: { kind: 'fixed', value: 4 },
    });
  });
});

describe('Go duration formatting', () => {
  it('matches time.Duration.String()', () => {
    expect(formatGoDuration(0)).toBe('0s');
    expect(formatGoDuration(250)).toBe('250ms');
    expect(formatGoDuration(1.5)).toBe('1.5ms');
    expect(formatGoDuration(0.5)).toBe('500µs');
    expect(formatGoDuration(0.000001)).toBe('1ns');
    expect(formatGoDuration(1500)).toBe('1.5s');
    expect(formatGoDuration(90_000)).toBe('1m30s');
    expect(formatGoDuration(3_600_000)).toBe('1h0m0s');
  });
});

describe('data parallel ranks', () => {
  it('size N → ranks 0..N−1 on port + r; a given rank runs alone on --port', () => {
    const config = completeConfig({ model: 'm', port: 8000, dataParallelSize: 3 });
    expect(rankConfigs(config).map((rank) => [rank.port, rank.dataParallelRank])).toEqual([[8000, 0], [8001, 1], [8002, 2]]);
    expect(rankConfigs(completeConfig({ model: 'm', port: 0, dataParallelSize: 2 })).map((rank) => rank.port)).toEqual([0, 0]);
    expect(rankConfigs(completeConfig({ model: 'm', port: 8000, dataParallelSize: 4, dataParallelRank: 2 })).map((rank) => [rank.port, rank.dataParallelRank])).toEqual([[8000, 2]]);
    expect(rankConfigs(completeConfig({ model: 'm' })).map((rank) => rank.dataParallelRank)).toEqual([-1]);
    expect(() => completeConfig({ model: 'm', dataParallelSize: 9 })).toThrow(/between 1 and 8/);
    expect(() => completeConfig({ model: 'm', dataParallelRank: 8 })).toThrow(/between 0 and 7/);
  });
});
