/** TLS on the ext_proc port (default on, self-signed or given material), and the gRPC health service. */
import { afterAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { selfSignedCertificate } from '../../../src/http/tls.js';
import { startExtProcServer } from '../../../scheduler/extproc/server.js';
import { startHealthServer, NOT_SERVING, SERVICE_UNKNOWN, SERVING } from '../../../scheduler/extproc/health.js';
import { loadProtos } from '../../../scheduler/extproc/proto.js';
import { EnvoyLikeClient, isRequestBodyEnd, requestHeaders, setHeadersOf, type ClientTls } from './envoy-client.js';
import { buildDirector, endpoint, silentLogger } from './fixtures.js';

const { director } = buildDirector({ endpoints: [endpoint('d', '10.0.0.1', 8000, 'decode')] });

async function roundTrip(port: number, tls: ClientTls | false): Promise<string | undefined> {
  const client = new EnvoyLikeClient(port, tls);
  try {
    const call = client.open();
    call.send(requestHeaders({ ':method': 'POST', ':path': '/v1/completions' })).sendBody('{"model":"m","prompt":"p"}', 10);
    const [first] = await call.until(isRequestBodyEnd);
    await call.end();
    return new Map(setHeadersOf(first!)).get('x-gateway-destination-endpoint');
  } finally {
    client.close();
  }
}

describe('ext_proc transport security', () => {
  it('serves TLS with the given certificate', async () => {
    const tls = await selfSignedCertificate('test');
    const server = await startExtProcServer({ director, endpoints: () => [], port: 0, host: '127.0.0.1', secure: true, tls, logger: silentLogger });
    try {
      expect(await roundTrip(server.port, { ca: tls.cert })).toBe('10.0.0.1:8000');
      // A plaintext client cannot talk to it.
      await expect(roundTrip(server.port, false)).rejects.toThrow();
    } finally {
      await server.close();
    }
  });

  it('makes a self-signed certificate when none is given', async () => {
    const server = await startExtProcServer({ director, endpoints: () => [], port: 0, host: '127.0.0.1', secure: true, logger: silentLogger });
    try {
      expect(await roundTrip(server.port, {})).toBe('10.0.0.1:8000');
    } finally {
      await server.close();
    }
  });

  it('serves plaintext with secure=false', async () => {
    const server = await startExtProcServer({ director, endpoints: () => [], port: 0, host: '127.0.0.1', secure: false, logger: silentLogger });
    try {
      expect(await roundTrip(server.port, false)).toBe('10.0.0.1:8000');
    } finally {
      await server.close();
    }
  });
});

describe('gRPC health', () => {
  let serving = false;
  const servers: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  function healthClient(port: number) {
    const Ctor = grpc.makeGenericClientConstructor(loadProtos().health, 'Health');
    return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  }

  const check = (client: grpc.Client & Record<string, (...args: unknown[]) => unknown>, service: string) =>
    new Promise<number>((resolve, reject) => {
      client.Check!({ service }, (err: Error | null, res: { status?: number }) => (err ? reject(err) : resolve(res.status ?? 0)));
    });

  it('answers Check per service name; Watch is unimplemented', async () => {
    const server = await startHealthServer({ port: 0, host: '127.0.0.1', isServing: () => serving });
    servers.push(server);
    const client = healthClient(server.port);
    try {
      expect(await check(client, 'envoy.service.ext_proc.v3.ExternalProcessor')).toBe(NOT_SERVING);
      expect(await check(client, 'liveness')).toBe(SERVING);
      serving = true;
      for (const service of ['', 'envoy.service.ext_proc.v3.ExternalProcessor', 'liveness', 'readiness']) {
        expect(await check(client, service)).toBe(SERVING);
      }
      expect(await check(client, 'something.Else')).toBe(SERVICE_UNKNOWN);
      const code = await new Promise<number>((resolve) => {
        const stream = client.Watch!({ service: '' }) as grpc.ClientReadableStream<unknown>;
        stream.on('error', (err: grpc.ServiceError) => resolve(err.code));
        stream.on('data', () => undefined);
      });
      expect(code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });
});
