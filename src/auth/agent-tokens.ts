import { createPrivateKey, randomUUID, type webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, importJWK, SignJWT, type JWK } from 'jose';
import { generateDevJwk, readOrCreateKeyFile } from './signing-keys.js';

type CryptoKey = webcrypto.CryptoKey;

export const AGENT_TOKEN_TYP = 'agent+jwt';
/** An agent token lives for one request: at most five minutes (CONTRACT, "Bring your own agent"). */
const AGENT_TOKEN_TTL_SECONDS = 300;
const DEV_AGENT_KEY_FILE = 'agent-signing-key.json';

/** Who a run acts for, as the agent sees it. */
export interface AgentTokenSubject {
  readonly userId: string;
  /** The run the request is for; absent on an MCP server's own long-lived requests (its event stream). */
  readonly threadId?: string | undefined;
  readonly runId?: string | undefined;
}

/**
 * Signs the agent token: the only identity a team's agent gets for a run. Asymmetric (EdDSA or ES256), so the agent
 * verifies it with the public key in the JWKS and no shared secret ever leaves agentgate. Its `typ` and its key
 * both differ from access tokens', so it is never accepted as one.
 */
export class AgentTokens {
  private constructor(
    private readonly key: CryptoKey,
    private readonly alg: 'EdDSA' | 'ES256',
    /** The public key, as the JWKS lists it. */
    readonly jwk: JWK,
    private readonly options: { readonly issuer: string; readonly audience: string },
  ) {}

  /** From AGENT_SIGNING_KEY (PKCS#8 PEM, Ed25519 or P-256), or else an Ed25519 key kept in DATA_DIR. */
  static async load(options: {
    readonly pem: string | undefined;
    readonly dataDir: string;
    readonly issuer: string;
    readonly audience: string;
  }): Promise<AgentTokens> {
    const { issuer, audience } = options;
    const privateJwk =
      options.pem === undefined
        ? readOrCreateKeyFile(options.dataDir, DEV_AGENT_KEY_FILE, await generateDevJwk())
        : await exportJWK(createPrivateKey(options.pem));
    const alg = privateJwk.kty === 'OKP' ? 'EdDSA' : 'ES256';
    const { d: _private, ...publicJwk } = privateJwk;
    const kid = await calculateJwkThumbprint(publicJwk);
    const key = (await importJWK(privateJwk, alg)) as CryptoKey;
    return new AgentTokens(key, alg, { ...publicJwk, kid, alg, use: 'sig' }, { issuer, audience });
  }

  /** A new token for one request to the agent. */
  async sign(subject: AgentTokenSubject, nowSeconds: number, audience = this.options.audience): Promise<string> {
    const claims = subject.runId === undefined ? {} : { thread_id: subject.threadId, run_id: subject.runId };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: this.alg, typ: AGENT_TOKEN_TYP, kid: this.jwk.kid })
      .setSubject(subject.userId)
      .setIssuer(this.options.issuer)
      .setAudience(audience)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + AGENT_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(this.key);
  }
}
