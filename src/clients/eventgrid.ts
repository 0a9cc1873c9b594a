/**
 * A run's events to an Azure Event Grid topic (issue 23), as CloudEvents 1.0, with the app's managed identity
 * (the topic's role "EventGrid Data Sender"; no access key anywhere). The Event Grid SDK is loaded, and its client
 * made, on the first publish: most instances never publish, and the deployment bundle keeps heavy clients out of
 * start-up.
 */
import type { EventGridPublisherClient, EventGridPublisherClientOptions } from '@azure/eventgrid';
import type { TokenCredential } from '@azure/identity';

import type { CloudEvent } from '../core/cloudevents.js';
import { ensureError } from '../core/errors.js';

/** The app setting that names the topic. */
export const EVENT_GRID_TOPIC_ENDPOINT_SETTING = 'EVENT_GRID_TOPIC_ENDPOINT';

/**
 * A publish that failed: `transient` when trying again later may help (throttling, 5xx, the network). Never a
 * caller's answer (delivery records it on the subscription), so no AppError; the message names the topic's host.
 */
export class EventGridError extends Error {
  override name = 'EventGridError';

  constructor(
    message: string,
    readonly transient: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface EventPublisher {
  /** Publishes the events in one request; resolves when the topic has accepted them. */
  publish(events: readonly CloudEvent[]): Promise<void>;
}

/**
 * A publisher for the topic at `endpoint` (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`), signed in
 * with `credential()` (the app's identity). `options` is for tests (a CA for a loopback topic); Azure needs none.
 */
export function eventGridPublisherFrom(
  endpoint: string,
  credential: () => TokenCredential,
  options: Pick<EventGridPublisherClientOptions, 'tlsOptions' | 'retryOptions'> = {},
): EventPublisher {
  let client: Promise<EventGridPublisherClient<'CloudEvent'>> | undefined;
  const connect = async () => {
    const { EventGridPublisherClient } = await import('@azure/eventgrid');
    return new EventGridPublisherClient(endpoint, 'CloudEvent', credential(), {
      // Retries are the delivery's (an orchestration's timers), not a worker blocked in the SDK.
      retryOptions: { maxRetries: 0 },
      userAgentOptions: { userAgentPrefix: 'aks-job-runner' },
      ...options,
    });
  };
  return {
    async publish(events) {
      client ??= connect().catch((err: unknown) => {
        client = undefined;
        throw err;
      });
      try {
        await (await client).send(
          events.map((e) => ({
            specversion: e.specversion,
            id: e.id,
            source: e.source,
            type: e.type,
            subject: e.subject,
            time: new Date(e.time),
            datacontenttype: e.datacontenttype,
            data: e.data,
          })),
        );
      } catch (err) {
        throw toEventGridError(endpoint, err);
      }
    },
  };
}

function toEventGridError(endpoint: string, err: unknown): EventGridError {
  const e = ensureError(err);
  const status = (err as { statusCode?: unknown }).statusCode;
  const where = hostOf(endpoint);
  if (typeof status === 'number') {
    const transient = status === 408 || status === 429 || status >= 500;
    const hint =
      status === 401 || status === 403
        ? `; give the app's identity the role EventGrid Data Sender on the topic, or fix ${EVENT_GRID_TOPIC_ENDPOINT_SETTING}`
        : status === 404
          ? `; check ${EVENT_GRID_TOPIC_ENDPOINT_SETTING}`
          : '';
    return new EventGridError(`publish to Event Grid topic ${where}: ${status}${hint}`, transient, { cause: err });
  }
  // No answer: the network, the token (identity) or the topic's name; all worth another try later.
  return new EventGridError(`publish to Event Grid topic ${where}: ${e.message}`, true, { cause: err });
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return 'the configured topic';
  }
}
