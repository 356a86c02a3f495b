/**
 * A real upstream OpenID provider for the single sign-on tests: `oidc-provider` on a loopback port, with
 * test accounts and an interaction that signs in whoever `next` names, asserting the `amr`/`acr` given
 * (no login form: the test decides who signs in). `rotateKeys()` swaps in a new signing key, as a
 * provider rotating its keys does. `authorize()` is the browser's side at the provider: it follows the
 * redirects (keeping the provider's cookies) until the provider sends the browser back to Clavis.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface UpstreamAccount {
  sub: string;
  preferred_username?: string;
  email?: string;
  groups?: string[];
}

export interface NextLogin {
  sub: string;
  amr?: string[];
  acr?: string;
}

async function signingKey() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomBytes(6).toString('hex'), alg: 'RS256', use: 'sig' };
}

export class TestUpstream {
  readonly accounts = new Map<string, UpstreamAccount>();
  next: NextLogin = { sub: 'ada-1' };
  #provider!: Provider;

  private constructor(
    readonly server: Server,
    readonly issuer: string,
    readonly clientId: string,
    readonly clientSecret: string,
    readonly redirectUri: string,
  ) {}

  /** Whether the ID token carries the scopes' claims (false: only userinfo has them, as many providers do). */
  idTokenClaims = true;

  static async start(redirectUri: string): Promise<TestUpstream> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const upstream = new TestUpstream(
      server,
      `http://127.0.0.1:${port}`,
      'clavis',
      randomBytes(16).toString('hex'),
      redirectUri,
    );
    await upstream.rotateKeys();
    server.on('request', (req, res) => {
      if (req.url?.startsWith('/interaction/')) {
        upstream.#interact(req, res).catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
        return;
      }
      upstream.#provider.callback()(req, res);
    });
    return upstream;
  }

  /** A new provider with a new signing key on the same issuer (sessions at the provider are lost). */
  async rotateKeys(): Promise<void> {
    const key = await signingKey();
    this.#provider = new Provider(this.issuer, {
      clients: [
        {
          client_id: this.clientId,
          client_secret: this.clientSecret,
          redirect_uris: [this.redirectUri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      jwks: { keys: [key] },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      claims: {
        openid: ['sub', 'amr', 'acr'],
        profile: ['preferred_username'],
        email: ['email'],
        groups: ['groups'],
      },
      scopes: ['openid', 'profile', 'email', 'groups'],
      conformIdTokenClaims: !this.idTokenClaims,
      features: { devInteractions: { enabled: false } },
      interactions: {
        url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
      },
      acrValues: ['urn:test:loa:1', 'urn:test:loa:mfa'],
      findAccount: async (_ctx: unknown, sub: string) => {
        const account = this.accounts.get(sub);
        // The methods of the current sign-in, as the account's claims (the `amr`/`acr` standalone claims).
        const { amr, acr } = this.next;
        return account
          ? {
              accountId: sub,
              claims: async () => ({ ...account, ...(amr ? { amr } : {}), ...(acr ? { acr } : {}) }),
            }
          : undefined;
      },
      // biome-ignore lint/suspicious/noExplicitAny: oidc-provider's context is untyped (oidc_provider.d.ts).
      loadExistingGrant: async (ctx: any) => {
        const grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client?.clientId as string,
          accountId: ctx.oidc.session?.accountId as string,
        });
        grant.addOIDCScope('openid profile email groups');
        await grant.save();
        return grant;
      },
    });
  }

  async #interact(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
    const details = await this.#provider.interactionDetails(req, res);
    if (details.prompt.name !== 'login') throw new Error(`unexpected prompt ${details.prompt.name}`);
    const { sub, amr, acr } = this.next;
    await this.#provider.interactionFinished(
      req,
      res,
      { login: { accountId: sub, ...(amr ? { amr } : {}), ...(acr ? { acr } : {}) } },
      { mergeWithLastSubmission: false },
    );
  }

  /** Follows the browser's redirects from `url` at the provider until it sends the browser back. */
  async authorize(url: string, tamper?: (url: URL) => void): Promise<URL> {
    const jar = new Map<string, string>();
    let current = new URL(url);
    tamper?.(current);
    for (let hops = 0; hops < 10; hops++) {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(current, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      for (const set of res.headers.getSetCookie()) {
        const [pair = ''] = set.split(';');
        const eq = pair.indexOf('=');
        jar.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (!location) throw new Error(`the provider answered ${res.status} without a redirect`);
      current = new URL(location, current);
      if (current.href.startsWith(this.redirectUri)) return current;
    }
    throw new Error('too many redirects at the provider');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
