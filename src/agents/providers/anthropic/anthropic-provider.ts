import type * as AnthropicSdk from '@anthropic-ai/sdk';
import type { Anthropic, APIError } from '@anthropic-ai/sdk';
import { type AppError } from '../../../errors/index.js';
import type { LlmProvider, StepRequest, StepResult, StepSink } from '../provider.js';
import type { ProviderSettings } from '../settings.js';
import {
  classifySdkError,
  consumeStream,
  fetchCappingRetryAfter,
  httpFailure,
  sdkLoggerFor,
  silentLogger,
  streamedApiFailure,
  type ProviderLogger,
} from '../transport.js';
import { EventAccumulator } from './events.js';
import { toAnthropicMessages, toAnthropicTools } from './messages.js';

const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

interface SdkClient {
  readonly sdk: typeof AnthropicSdk;
  readonly client: Anthropic;
}

/**
 * The Messages API, streamed, through the official `@anthropic-ai/sdk`: text, extended thinking and tool use. The
 * SDK does HTTP, SSE parsing (it turns `error` events into errors and skips `ping`), retries with backoff, the
 * per-attempt timeout and aborts; this class only maps its events and errors.
 */
export class AnthropicProvider implements LlmProvider {
  readonly kind = 'anthropic';
  readonly model: string;
  readonly #settings: ProviderSettings;
  readonly #logger: ProviderLogger;
  #client: Promise<SdkClient> | undefined;

  constructor(settings: ProviderSettings, logger: ProviderLogger = silentLogger) {
    if (settings.apiKey === undefined)
      throw new TypeError('The Anthropic provider needs an API key (config checks LLM_API_KEY).');
    this.#settings = settings;
    this.#logger = logger;
    this.model = settings.model;
  }

  /**
   * Loads the SDK and builds its client, once: the server calls it at start-up, else the first step does. Never
   * at import: a server whose LLM_PROVIDER is another does not carry the SDK (about 22 MiB resident).
   */
  load(): Promise<SdkClient> {
    return (this.#client ??= import('@anthropic-ai/sdk').then((sdk) => ({
      sdk,
      client: new sdk.Anthropic({
        // An explicit key and base URL keep the SDK from reading credentials or a host from the environment or disk.
        apiKey: this.#settings.apiKey,
        baseURL: this.#settings.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL,
        timeout: this.#settings.timeoutMs,
        maxRetries: this.#settings.maxRetries,
        fetch: fetchCappingRetryAfter(this.#settings.timeoutMs),
        logger: sdkLoggerFor(this.#logger, 'anthropic'),
        logLevel: 'info',
        openTelemetry: false,
      }),
    })));
  }

  async streamStep(request: StepRequest, sink: StepSink): Promise<StepResult> {
    const { sdk, client } = await this.load();
    const events = new EventAccumulator(sink);
    const thinking = this.#settings.thinkingBudgetTokens;
    await consumeStream<unknown>({
      signal: request.signal,
      idleMs: this.#settings.timeoutMs,
      open: (signal) =>
        client.messages.create(
          {
            model: this.model,
            max_tokens: this.#settings.maxOutputTokens,
            system: request.system,
            messages: toAnthropicMessages(request.turns),
            ...(request.tools.length === 0 ? {} : { tools: toAnthropicTools(request.tools) }),
            ...(thinking > 0 ? { thinking: { type: 'enabled', budget_tokens: thinking } } : {}),
            stream: true,
          },
          { signal },
        ),
      onEvent: (event) => events.add(event),
      classify: (err) => this.#classify(sdk, err),
    });
    return events.finish();
  }

  #classify(sdk: typeof AnthropicSdk, err: unknown): unknown {
    // `instanceof` on the generic class yields APIError<any>: the cast restores the declared field types.
    return classifySdkError(
      err,
      {
        timeout: sdk.APIConnectionTimeoutError,
        connection: sdk.APIConnectionError,
        api: sdk.APIError,
        base: sdk.AnthropicError,
      },
      this.#settings,
      (e) => apiFailure(e as APIError),
    );
  }
}

/** A status means an HTTP error after the retries; none means a stream `error` event (overloaded_error, api_error, …). */
function apiFailure(err: APIError): AppError {
  return err.status === undefined ? streamedApiFailure(err.type) : httpFailure(err.status, err.headers);
}
