import type * as OpenAiSdk from 'openai';
import type { APIError, OpenAI } from 'openai';
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
import { ChunkAccumulator } from './chunks.js';
import { toChatMessages, toChatTools } from './messages.js';

const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** The SDK insists on a key; self-hosted servers started without one ignore whatever is sent. */
const NO_KEY = 'no-key';

interface SdkClient {
  readonly sdk: typeof OpenAiSdk;
  readonly client: OpenAI;
}

/**
 * Chat Completions, streamed, through the official `openai` SDK: OpenAI itself and the OpenAI-compatible servers
 * (vLLM, Ollama, llama.cpp server, LM Studio). The SDK does HTTP, SSE parsing, retries with backoff, the
 * per-attempt timeout and aborts; this class only maps its chunks and errors.
 */
export class OpenAiProvider implements LlmProvider {
  readonly kind = 'openai';
  readonly model: string;
  readonly #settings: ProviderSettings;
  readonly #logger: ProviderLogger;
  #client: Promise<SdkClient> | undefined;

  constructor(settings: ProviderSettings, logger: ProviderLogger = silentLogger) {
    this.#settings = settings;
    this.#logger = logger;
    this.model = settings.model;
  }

  /**
   * Loads the SDK and builds its client, once: the server calls it at start-up, else the first step does. Never
   * at import: a server whose LLM_PROVIDER is another does not carry the SDK (about 13 MiB resident).
   */
  load(): Promise<SdkClient> {
    return (this.#client ??= import('openai').then((sdk) => ({
      sdk,
      client: new sdk.OpenAI({
        apiKey: this.#settings.apiKey ?? NO_KEY,
        // Every option the SDK would otherwise read from process.env is given, so only our config decides.
        baseURL: this.#settings.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
        adminAPIKey: null,
        organization: null,
        project: null,
        webhookSecret: null,
        timeout: this.#settings.timeoutMs,
        maxRetries: this.#settings.maxRetries,
        fetch: fetchCappingRetryAfter(this.#settings.timeoutMs),
        logger: sdkLoggerFor(this.#logger, 'openai'),
        logLevel: 'info',
      }),
    })));
  }

  async streamStep(request: StepRequest, sink: StepSink): Promise<StepResult> {
    const { sdk, client } = await this.load();
    const chunks = new ChunkAccumulator(sink);
    await consumeStream<unknown>({
      signal: request.signal,
      idleMs: this.#settings.timeoutMs,
      open: (signal) =>
        client.chat.completions.create(
          {
            model: this.model,
            messages: toChatMessages(request.system, request.turns),
            ...(request.tools.length === 0 ? {} : { tools: toChatTools(request.tools) }),
            max_completion_tokens: this.#settings.maxOutputTokens,
            stream: true,
            // The usage arrives in one last chunk with empty `choices`.
            stream_options: { include_usage: true },
          },
          { signal },
        ),
      onEvent: (chunk) => chunks.add(chunk),
      classify: (err) => this.#classify(sdk, err),
    });
    return chunks.finish();
  }

  #classify(sdk: typeof OpenAiSdk, err: unknown): unknown {
    // `instanceof` on the generic class yields APIError<any>: the cast restores the declared field types.
    return classifySdkError(
      err,
      {
        timeout: sdk.APIConnectionTimeoutError,
        connection: sdk.APIConnectionError,
        api: sdk.APIError,
        base: sdk.OpenAIError,
      },
      this.#settings,
      (e) => apiFailure(e as APIError),
    );
  }
}

/** A status means an HTTP error after the retries; none means an `error` object inside the stream (its type or code says what). */
function apiFailure(err: APIError): AppError {
  return err.status === undefined
    ? streamedApiFailure([err.type, err.code].filter(Boolean).join(' '))
    : httpFailure(err.status, err.headers);
}
