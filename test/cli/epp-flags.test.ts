/**
 * Upstream EPP manifests pass klog/zap logging flags and flags that mean nothing here: the EPP
 * accepts them (instead of crash-looping), maps the logging ones onto our level/format, and names
 * the no-effect ones in one warning line.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { logOptionsFrom, timeEncodingArg, verbosityLevel, zapLevelArg } from '../../src/log-flags.js';
import { consoleLine } from '../../src/log.js';
import { CLI, startCli } from '../helpers/processes.js';

const QUIET_PORTS = ['--host', '127.0.0.1', '--gateway-port', '0', '--grpc-port', '-1', '--grpc-health-port', '-1', '--metrics-port', '-1'];
const DEBUG = 20;
const WARN = 40;

describe('logging flag mapping', () => {
  it('klog verbosity: ≤3 info, 4 debug, ≥5 trace', () => {
    expect([0, 2, 3, 4, 5, 9].map(verbosityLevel)).toEqual(['info', 'info', 'info', 'debug', 'trace', 'trace']);
  });

  it('zap time encodings (case-insensitive); an unknown one is refused', () => {
    expect(['epoch', 'MILLIS', 'nano', 'ISO8601', 'rfc3339', 'RFC3339Nano'].map(timeEncodingArg)).toEqual(['epoch', 'millis', 'nano', 'iso8601', 'rfc3339', 'rfc3339nano']);
    expect(() => timeEncodingArg('unix')).toThrow('invalid time-encoding value "unix"');
    expect(logOptionsFrom({ zapTimeEncoding: 'nano' }, {})).toEqual({ level: 'info', format: 'json', timeEncoding: 'nano' });
  });

  it('zap levels', () => {
    expect(['debug', 'INFO', 'warn', 'error', 'dpanic', 'panic', 'fatal', '4', '5'].map(zapLevelArg)).toEqual(['debug', 'info', 'warn', 'error', 'fatal', 'fatal', 'fatal', 'debug', 'trace']);
    expect(() => zapLevelArg('loud')).toThrow('"loud" is not a zap level');
  });

  it('precedence: --zap-log-level, -v, --zap-devel, env, default', () => {
    expect(logOptionsFrom({ zapLogLevel: 'error', v: 5, zapDevel: true }, {})).toEqual({ level: 'error', format: 'console' });
    expect(logOptionsFrom({ v: 4 }, { LOG_LEVEL: 'warn' })).toEqual({ level: 'debug', format: 'json' });
    expect(logOptionsFrom({ zapDevel: true, zapEncoder: 'json' }, {})).toEqual({ level: 'debug', format: 'json' });
    expect(logOptionsFrom({}, { LOG_LEVEL: 'warn', LOG_FORMAT: 'console' })).toEqual({ level: 'warn', format: 'console' });
    expect(logOptionsFrom({}, {})).toEqual({ level: 'info', format: 'json' });
  });

  it('console format: one readable line per record', () => {
    expect(consoleLine('{"level":30,"time":"T","component":"epp","pid":1,"hostname":"h","url":"http://x","port":8080,"msg":"listening"}')).toBe('T INFO  epp listening url=http://x port=8080');
  });
});

describe('pd-router epp with upstream flags', () => {
  it('-v 4 gives debug records; --enable-pprof and friends are accepted with one warning naming them', async () => {
    const epp = await startCli(['epp', ...QUIET_PORTS, '-v', '4', '--zap-encoder=json', '--enable-pprof', '--allow-experimental-plugins', '--total-queued-requests-metric', 'vllm:num_requests_waiting', '--zap-stacktrace-level=error', '--zap-time-encoding=epoch']);
    try {
      const warnings = epp.logs.filter((line) => line.level === WARN && String(line.msg).startsWith('upstream EPP flags with no effect'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.flags).toEqual(['--enable-pprof', '--allow-experimental-plugins', '--total-queued-requests-metric', '--zap-stacktrace-level']);
      // --zap-time-encoding=epoch: seconds since the epoch, as zap writes them.
      expect(typeof warnings[0]!.time).toBe('number');
      expect(Math.abs(Number(warnings[0]!.time) - Date.now() / 1000)).toBeLessThan(600);
      await epp.waitForLog((line) => line.level === DEBUG);
    } finally {
      await epp.stop();
    }
  });

  it('--v=4 and --zap-log-level=debug are the same thing; without them no debug records (control)', async () => {
    for (const flags of [['--v=4'], ['--zap-log-level=debug']]) {
      const epp = await startCli(['epp', ...QUIET_PORTS, ...flags]);
      await epp.waitForLog((line) => line.level === DEBUG).finally(() => epp.stop());
    }
    const plain = await startCli(['epp', ...QUIET_PORTS]);
    await plain.stop();
    expect(plain.logs.length).toBeGreaterThan(2);
    expect(plain.logs.filter((line) => line.level === DEBUG)).toEqual([]);
  }, 90_000); // three EPP start-ups in a row: slow on a loaded machine

  it('--zap-devel prints readable lines, not JSON', () => {
    const run = spawnSync(process.execPath, [CLI, 'epp', ...QUIET_PORTS, '--zap-devel', '--config-text', 'apiVersion: nope'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^\S+ FATAL epp epp failed to start err=apiVersion: /m);
    expect(run.stdout).not.toMatch(/^\{/m);
    expect(run.stderr).toContain('pd-router epp: failed to start: apiVersion: ');
  });

  it('an unknown flag is still refused (control)', () => {
    const run = spawnSync(process.execPath, [CLI, 'epp', '--enable-pprofx'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("unknown option '--enable-pprofx'");
  });
});
