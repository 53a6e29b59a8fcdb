/**
 * A real OTLP/HTTP receiver for tests: processes export spans to it with
 * OTEL_EXPORTER_OTLP_PROTOCOL=http/json and the test reads them back, flattened.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  service: string;
  /** The `pd_router.component` resource attribute ('' when absent). */
  component: string;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}

function valueOf(value: OtlpValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

type Attr = { key: string; value?: OtlpValue };
const attrs = (list: Attr[] | undefined): Record<string, unknown> => Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            resourceSpans?: Array<{ resource?: { attributes?: Attr[] }; scopeSpans?: Array<{ scope?: { name?: string }; spans?: Array<Record<string, unknown>> }> }>;
          };
          for (const rs of body.resourceSpans ?? []) {
            const resource = attrs(rs.resource?.attributes);
            const service = String(resource['service.name'] ?? '');
            const component = String(resource['pd_router.component'] ?? '');
            for (const ss of rs.scopeSpans ?? []) {
              for (const span of ss.spans ?? []) {
                this.spans.push({
                  service,
                  component,
                  scope: ss.scope?.name ?? '',
                  traceId: String(span.traceId),
                  spanId: String(span.spanId),
                  parentSpanId: String(span.parentSpanId ?? ''),
                  name: String(span.name),
                  kind: Number(span.kind),
                  attributes: attrs(span.attributes as Attr[] | undefined),
                  status: (span.status ?? {}) as { code?: number; message?: string },
                });
              }
            }
          }
        } catch {
          res.writeHead(400).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Env that makes a pd-router process export every span here. */
  env(serviceName: string): Record<string, string> {
    return {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${this.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_SERVICE_NAME: serviceName,
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
