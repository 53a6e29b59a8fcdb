import { describe, expect, it } from 'vitest';
import { DATA_PARALLEL_HEADER } from '../../../../src/wire/headers.js';
import { DataParallelProfileHandler, dataParallelProfileHandlerFactory } from '../../../../scheduler/plugins/profiles/data-parallel-profile-handler.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle } from '../../helpers.js';

describe('data-parallel-profile-handler', () => {
  it('names the picked rank in the header and sends to the primary port', () => {
    const rank = makeEndpoint({ name: 'pod-rank-1', address: '10.1.2.3', port: 8001 });
    const request = chatRequest('x');
    const result = new DataParallelProfileHandler('dp', 8000).processResults(makeContext([rank]), request, new Map([['default', { targets: [rank] }]]));
    expect(request.headers.get(DATA_PARALLEL_HEADER)).toBe('10.1.2.3:8001');
    const target = result.profileResults.get('default')!.targets[0]!;
    expect([target.name, target.hostPort]).toEqual(['pod-rank-1', '10.1.2.3:8000']);
  });
  it('fails with 503 when the profile found nobody, and checks parameters and profile count', () => {
    expect(() => new DataParallelProfileHandler('dp').processResults(makeContext([]), chatRequest('x'), new Map([['default', null]]))).toThrow(/no endpoint available/);
    expect(() => dataParallelProfileHandlerFactory('dp', { primaryPort: 70000 }, makeHandle())).toThrow(/primaryPort/);
    expect(() => new DataParallelProfileHandler('dp').validateProfiles(['a', 'b'])).toThrow(/exactly one/);
  });
});
