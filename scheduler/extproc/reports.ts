/**
 * ResponseReporter values (e.g. `request-attribute-reporter`) as ext_proc dynamic metadata: when
 * the response completes, each reporter is asked once and its value is set at
 * `dynamic_metadata[namespace][name]` (a number) on the last response message, merged with any
 * metadata that message already carries. A reporter that throws is logged and skipped.
 */
import type { Logger } from '../../src/log.js';
import type { ResponseInfo, ResponseReporter } from '../framework/plugins.js';
import type { ProcessingResponse, Struct } from './proto.js';

export function attachReports(responses: ProcessingResponse[], reporters: readonly ResponseReporter[], info: ResponseInfo, logger: Logger): void {
  const last = responses.at(-1);
  if (!last || reporters.length === 0) return;
  for (const reporter of reporters) {
    let report;
    try {
      report = reporter.reportResponse(info);
    } catch (err) {
      logger.warn({ plugin: reporter.name, err: (err as Error).message }, 'response reporter failed');
      continue;
    }
    if (!report) continue;
    const metadata: Struct = last.dynamic_metadata ?? { fields: {} };
    metadata.fields ??= {};
    const namespace = metadata.fields[report.namespace]?.struct_value ?? { fields: {} };
    namespace.fields = { ...namespace.fields, [report.name]: { number_value: report.value } };
    metadata.fields[report.namespace] = { struct_value: namespace };
    last.dynamic_metadata = metadata;
  }
}
