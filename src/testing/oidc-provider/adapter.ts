import type { Adapter, AdapterPayload } from 'oidc-provider';

/** A client as the tests register it at the provider. */
export interface ClientSettings {
  readonly clientId: string;
  /** Required unless tokenEndpointAuthMethod is 'none'. */
  readonly clientSecret?: string;
  readonly redirectUris: readonly string[];
  readonly tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** Default RS256. */
  readonly idTokenSignedResponseAlg?: 'RS256' | 'ES256';
}

export function clientMetadata(c: ClientSettings): AdapterPayload {
  return {
    client_id: c.clientId,
    ...(c.clientSecret === undefined ? {} : { client_secret: c.clientSecret }),
    redirect_uris: [...c.redirectUris],
    token_endpoint_auth_method: c.tokenEndpointAuthMethod,
    id_token_signed_response_alg: c.idTokenSignedResponseAlg ?? 'RS256',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  };
}

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

/**
 * One in-memory store per provider (the library's own memory adapter shares a module-wide store between providers).
 * Clients live in `clients`, read on every lookup: oidc-provider caches a dynamic client by the hash of its
 * metadata, so a client changed after start is seen at once.
 */
export function memoryAdapterFactory(clients: ReadonlyMap<string, AdapterPayload>): (model: string) => Adapter {
  const store = new Map<string, Entry>();
  const get = (key: string): AdapterPayload | undefined => {
    const entry = store.get(key);
    if (entry !== undefined && entry.expiresAt <= Date.now()) store.delete(key);
    return entry !== undefined && entry.expiresAt > Date.now() ? entry.payload : undefined;
  };
  return (model) => {
    const key = (id: string): string => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        const expiresAt = expiresIn === undefined ? Infinity : Date.now() + expiresIn * 1000;
        store.set(key(id), { payload, expiresAt });
        if (model === 'Session' && typeof payload.uid === 'string')
          store.set(`uid:${payload.uid}`, { payload, expiresAt });
      },
      async find(id) {
        return model === 'Client' ? clients.get(id) : get(key(id));
      },
      async findByUid(uid) {
        return get(`uid:${uid}`);
      },
      async findByUserCode() {
        return undefined;
      },
      async consume(id) {
        const payload = get(key(id));
        if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        store.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        // Only this model's tokens: an interaction that names the grant must survive its revocation.
        for (const [k, entry] of store)
          if (k.startsWith(`${model}:`) && entry.payload.grantId === grantId) store.delete(k);
      },
    };
  };
}
