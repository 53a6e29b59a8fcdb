/**
 * One choice of one request on the step engine: tokenize → context-window check → cache-threshold
 * check → choose the tokens → hand the request to the StepEngine, whose steps decide when each
 * token goes out. Events go to the same ChoiceSink as the latency engine's workers.
 */
import { REMOTE_DECODE, CACHE_THRESHOLD, belowThreshold, generate, promptWithinWindow, toSimError, type ChoiceJob, type ChoiceSink, type WorkerContext } from '../worker.js';
import type { StepEngine } from './engine.js';
import { pullTargetOf, sendPull } from './kv-pull.js';

export async function runStepChoice(engine: StepEngine, context: WorkerContext, job: ChoiceJob, sink: ChoiceSink): Promise<void> {
  const { request, choice } = job;
  try {
    const config = context.config();
    const { prompt, promptTokens } = await promptWithinWindow(config, job);
    const base = { promptKey: job.prompt.key, promptTokens, logprobs: request.logprobs };
    const hashModel = job.lora ?? job.displayModel;
    if (belowThreshold(config, request, engine.cachedTokens(prompt.ids, hashModel), promptTokens)) {
      sink.finished(choice, { ...base, finishReason: CACHE_THRESHOLD, completionTokens: 0, cachedTokens: null, tokens: [] });
      return;
    }
    const generated = generate(context, job, prompt);
    const count = generated.tokens.ids.length;
    const strings = generated.tokens.strings;
    const finishReason = request.doRemoteDecode && !request.stream ? REMOTE_DECODE : generated.finishReason;
    const pullFrom = request.doRemotePrefill ? pullTargetOf(request.kvTransferParams) : undefined;
    engine.submit({
      id: job.kvId,
      promptIds: prompt.ids,
      outputIds: generated.tokens.ids,
      model: hashModel,
      lora: job.lora === null ? undefined : context.loraIdentity(job.lora),
      remotePrefill: request.doRemotePrefill,
      remoteDecode: request.doRemoteDecode,
      releaseId: request.id,
      onTransferred: pullFrom ? () => void sendPull(pullFrom, context.signal) : undefined,
      sink: {
        started: () => sink.started(choice),
        token: (index) => sink.token(choice, strings[index] ?? '', index),
        finished: (outcome) => {
          context.metrics.requestSuccess({ promptTokens, generationTokens: count, maxTokens: request.maxTokens, finishReason });
          sink.finished(choice, { ...base, finishReason, completionTokens: count, cachedTokens: outcome.cachedTokens, tokens: strings.slice(0, count) });
        },
        failed: (error) => sink.failed(choice, error),
      },
    });
  } catch (err) {
    sink.failed(choice, toSimError(err));
  }
}
