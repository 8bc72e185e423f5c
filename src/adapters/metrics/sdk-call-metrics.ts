/**
 * Times every call an AWS SDK client makes and reports it by operation, retries
 * included (the `initialize` step wraps them), so the figure is what the waiting
 * socket or request saw.
 */
import type { MiddlewareStack } from '@smithy/types';
import type { CallService, Metrics } from '../../domain/metrics.js';

export function reportCalls<Input extends object, Output extends object>(
  client: { middlewareStack: MiddlewareStack<Input, Output> },
  service: CallService,
  metrics: Metrics,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
      const started = performance.now();
      try {
        const output = await next(args);
        metrics.storageCall(service, operation, (performance.now() - started) / 1000);
        return output;
      } catch (err) {
        const name = err instanceof Error ? err.name : 'Error';
        metrics.storageCall(service, operation, (performance.now() - started) / 1000, name);
        throw err;
      }
    },
    { step: 'initialize', name: 'huddleCallMetrics' },
  );
}
