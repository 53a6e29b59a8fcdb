/**
 * Every flag llm-d Router's EPP and sidecar accept is accepted by `pd-router epp` / `pd-router
 * sidecar` (the list is our fixture, test/fixtures/upstream-flags.json, pinned to an upstream
 * commit): in `--flag=value` form and, for flags with a value, `--flag value`. Flags with no
 * meaning here are named in one warning line; the sidecar's --metrics-port serves its metrics.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi, afterEach } from 'vitest';
import type { Command } from 'commander';
import * as grpc from '@grpc/grpc-js';
import { NOT_SERVING, SERVING } from '../../scheduler/extproc/health.js';
import { loadProtos } from '../../scheduler/extproc/proto.js';
import { startEpp } from '../../scheduler/main.js';
import { byteSizeArg } from '../../src/flags.js';
import { pino } from 'pino';
import { attributeName } from '../../src/cli/options.js';
import { buildEppCommand, eppConfigFromCommand } from '../../scheduler/options.js';
import { buildSidecarCommand, sidecarLaunchFromCommand } from '../../sidecar/options.js';
import { CLI, startCli } from '../helpers/processes.js';
import { freePort } from '../../src/http/free-port.js';

interface UpstreamFlags {
  commit: string;
  epp: Record<string, string>;
  sidecar: Record<string, string>;
}

const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/upstream-flags.json', import.meta.url), 'utf8')) as UpstreamFlags;
const WARN = 40;
const DEBUG = 20;

afterEach(() => {
  vi.unstubAllEnvs();
});

function parsed(build: () => Command, args: string[]): Command {
  const command = build().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  command.parse(args, { from: 'user' });
  return command;
}

/** Parses each flag alone, both spellings; returns the flags that failed with why. */
function refused(build: () => Command, flags: Record<string, string>): string[] {
  const failures: string[] = [];
  for (const [name, value] of Object.entries(flags)) {
    const option = build().options.find((candidate) => candidate.long === `--${name}`);
    const forms = option && !option.optional ? [[`--${name}=${value}`], [`--${name}`, value]] : [[`--${name}=${value}`]];
    for (const args of forms) {
      try {
        const command = parsed(build, args);
        if (command.getOptionValueSource(attributeName(name)) !== 'cli' || command.args.length > 0) failures.push(`${args.join(' ')}: value not taken`);
      } catch (err) {
        failures.push(`${args.join(' ')}: ${(err as Error).message}`);
      }
    }
  }
  return failures;
}


describe('upstream flag list (fixture)', () => {
  it('is pinned to an upstream commit and not trivially small', () => {
    expect(FIXTURE.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(Object.keys(FIXTURE.epp).length).toBeGreaterThan(40);
    expect(Object.keys(FIXTURE.sidecar).length).toBeGreaterThan(40);
  });

  it('every upstream EPP flag parses on `pd-router epp`', () => {
    expect(refused(() => buildEppCommand(), FIXTURE.epp)).toEqual([]);
    expect(parsed(() => buildEppCommand(), ['-v', '4']).getOptionValue('v')).toBe(4);
  });

  it('every upstream sidecar flag parses on `pd-router sidecar`', () => {
    expect(refused(buildSidecarCommand, FIXTURE.sidecar)).toEqual([]);
    expect(parsed(buildSidecarCommand, ['--moriio-tp-size', '2']).getOptionValue('moriioTpSize')).toBe(2);
  });

  it('a flag upstream does not have is still refused (control)', () => {
    expect(refused(() => buildEppCommand(), { 'not-an-upstream-flag': '1' })).toHaveLength(1);
    expect(refused(buildSidecarCommand, { 'not-an-upstream-flag': '1' })).toHaveLength(1);
  });
});

describe('sidecar: logging and connector flags', () => {
  const launch = (args: string[]) => sidecarLaunchFromCommand(parsed(buildSidecarCommand, args));

  it('-v / --zap-* set the log level and format, as for the EPP', () => {
    expect(launch(['-v', '4']).log).toEqual({ level: 'debug', format: 'json' });
    expect(launch(['--zap-log-level=error', '--zap-encoder=console']).log).toEqual({ level: 'error', format: 'console' });
    expect(launch(['--zap-devel']).log).toEqual({ level: 'debug', format: 'console' });
    expect(launch(['--zap-time-encoding=rfc3339']).log).toEqual({ level: 'info', format: 'json', timeEncoding: 'rfc3339' });
  });

  it('connector flags of connectors pd-router lacks are named, from flags, env and YAML alike', () => {
    expect(launch([]).ignoredFlags).toEqual([]);
    expect(launch(['--moriio-tp-size', '2', '--enable-p2p-pull', '--moriio-remote-hosts=a,b', '--zap-stacktrace-level=error']).ignoredFlags)
      .toEqual(['--enable-p2p-pull', '--moriio-tp-size', '--moriio-remote-hosts', '--zap-stacktrace-level']);
    vi.stubEnv('MOONCAKE_BOOTSTRAP_PORT', '8998');
    expect(launch(['--configuration={p2p-connector-port: 7777}']).ignoredFlags).toEqual(['--mooncake-bootstrap-port', '--p2p-connector-port']);
  });

  it('a badly typed connector flag is still an error', () => {
    expect(() => launch(['--moriio-tp-size', 'two'])).toThrow('"two" is not an integer');
  });
});

describe('epp: flags that take effect', () => {
  const config = (args: string[]) => eppConfigFromCommand(parsed(() => buildEppCommand(), args));

  it('TLS version and ciphers in Go names become OpenSSL settings; TLS 1.3 suites stay fixed', () => {
    const eppConfig = config(['--tls-min-version=VersionTLS13', '--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_RSA_WITH_AES_128_GCM_SHA256']);
    expect(eppConfig.tlsMinVersion).toBe('TLSv1.3');
    expect(eppConfig.tlsCiphers).toBe('TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:AES128-GCM-SHA256');
    expect(config([]).tlsCiphers).toBeUndefined();
  });

  it('--disable-endpoint-subset-filter, --emit-endpoint-scores and --health-checking reach the ext_proc settings', () => {
    expect(config([])).toMatchObject({ subsetFilter: true, emitEndpointScores: false });
    expect(config(['--disable-endpoint-subset-filter', '--emit-endpoint-scores', '--health-checking', '--enable-cert-reload']))
      .toMatchObject({ subsetFilter: false, emitEndpointScores: true, healthChecking: true, enableCertReload: true, ignoredFlags: [] });
  });

  it('gRPC message sizes take Kubernetes quantities with an optional B; --drain-timeout a Go duration', () => {
    expect(['10MiB', '25MB', '4194304', '1Gi', '512k'].map(byteSizeArg)).toEqual([10 * 2 ** 20, 25e6, 4194304, 2 ** 30, 512e3]);
    expect(() => byteSizeArg('ten')).toThrow('"ten" is not a byte size');
    expect(() => byteSizeArg('-1Mi')).toThrow('is not a byte size');
    expect(config(['--grpc-max-recv-msg-size=10MiB', '--grpc-max-send-msg-size', '25MB', '--drain-timeout=30s']))
      .toMatchObject({ grpcMaxRecvMsgBytes: 10 * 2 ** 20, grpcMaxSendMsgBytes: 25e6, drainTimeoutMs: 30_000, ignoredFlags: [] });
    expect(config([])).toMatchObject({ grpcMaxRecvMsgBytes: undefined, drainTimeoutMs: 0 });
  });

  it('draining (--drain-timeout after SIGTERM): readiness NOT_SERVING while the gateway keeps answering', async () => {
    const epp = await startEpp({ host: '127.0.0.1', gatewayPort: 0, grpcPort: -1, grpcHealthPort: 0, metricsPort: -1 }, pino({ level: 'silent' }));
    const Ctor = grpc.makeGenericClientConstructor(loadProtos().health, 'Health');
    const client = new Ctor(`127.0.0.1:${epp.ports.health!}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
    const readiness = () => new Promise<number>((resolve, reject) => {
      client.Check!({ service: 'readiness' }, (err: Error | null, res: { status?: number }) => (err ? reject(err) : resolve(res.status ?? 0)));
    });
    try {
      expect(await readiness()).toBe(SERVING);
      epp.drain();
      expect(await readiness()).toBe(NOT_SERVING);
      expect((await fetch(`${epp.gatewayUrl!}/health`)).status).toBe(200);
    } finally {
      client.close();
      await epp.close();
    }
  });

  it('metrics TLS flags are checked as upstream checks them', () => {
    expect(() => config(['--metrics-client-ca-file=/nonexistent/ca.pem'])).toThrow('--metrics-client-ca-file requires --metrics-cert-dir');
    expect(() => config(['--metrics-cert-dir=/nonexistent'])).toThrow('--metrics-cert-dir names a file that cannot be read (metrics TLS cert file unreadable): /nonexistent/tls.crt');
  });
});

describe('pd-router epp refuses at start-up what it cannot do', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'epp', ...args], { encoding: 'utf8' });

  it('an unknown cipher suite or TLS version', () => {
    const cipher = run('--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_NOT_A_SUITE');
    expect(cipher.status).toBe(1);
    expect(cipher.stderr).toContain('unknown cipher suite "TLS_NOT_A_SUITE"');
    const version = run('--tls-min-version', 'TLSv1.3');
    expect(version.status).toBe(1);
    expect(version.stderr).toContain('unknown TLS version "TLSv1.3"; supported values: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13');
  });

  it('a malformed --endpoint-selector', () => {
    const selector = run('--endpoint-selector=app=vllm,', '--endpoint-target-ports=8000');
    expect(selector.status).toBe(1);
    expect(selector.stderr).toContain('--endpoint-selector "app=vllm," is not a label selector');
  });
});

describe('pd-router sidecar with upstream flags', () => {
  it('one warning line names the no-effect flags; -v 4 gives debug records; --metrics-port serves /metrics', async () => {
    const metricsPort = await freePort();
    const sidecar = await startCli([
      'sidecar', '--host', '127.0.0.1', '--port', '0', '--secure-proxy=false', '--metrics-port', String(metricsPort),
      '-v', '4', '--moriio-tp-size', '2', '--enable-p2p-pull', '--zap-stacktrace-level=error', '--zap-time-encoding=rfc3339',
    ], { listeners: 2, env: { MOONCAKE_BOOTSTRAP_PORT: '8998' } });
    try {
      const warnings = sidecar.logs.filter((line) => line.level === WARN && String(line.msg).startsWith('upstream sidecar flags with no effect'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.flags).toEqual(['--mooncake-bootstrap-port', '--enable-p2p-pull', '--moriio-tp-size', '--zap-stacktrace-level']);
      expect(warnings[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/); // --zap-time-encoding=rfc3339: whole seconds
      const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      const answer = await fetch(metricsUrl);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain('pd_sidecar_prefill_answer_too_large_total 0');
      expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
      await sidecar.waitForLog((line) => line.level === DEBUG);
    } finally {
      await sidecar.stop();
    }
  });
});
