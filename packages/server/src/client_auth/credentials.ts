/**
 * Extracting the client's credentials from a token, introspection or revocation request, before
 * anything is looked up: exactly one method, each well-formed (RFC 6749 §2.3, RFC 7521 §4.2).
 */
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, InvalidClient, InvalidRequest } from '@clavis/core';
import type { FormParams } from '../http/form_body.js';

type PresentedCredentials =
  | { method: 'client_secret_basic'; clientId: string; secret: string }
  | { method: 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string | undefined; assertion: string }
  | { method: 'none'; clientId: string };

const MAX_ID = 128;
const MAX_SECRET = 256;

/** RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encoding. */
function formDecode(text: string): string {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}

function parseBasic(header: string): { clientId: string; secret: string } {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!match?.[1] || header.length > 1024) throw new InvalidClient('malformed Basic authorization header');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidClient('malformed Basic authorization header');
  try {
    const clientId = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (!clientId || !secret || clientId.includes('\0') || secret.includes('\0')) {
      throw new InvalidClient('malformed Basic authorization header');
    }
    return { clientId, secret };
  } catch (err) {
    if (err instanceof InvalidClient) throw err;
    throw new InvalidClient('malformed Basic authorization header');
  }
}

export function presentedCredentials(
  authorization: string | undefined,
  params: FormParams,
): PresentedCredentials {
  const bodyId = params.client_id;
  const bodySecret = params.client_secret;
  const assertion = params.client_assertion;
  const assertionType = params.client_assertion_type;
  const methods = [authorization !== undefined, bodySecret !== undefined, assertion !== undefined].filter(
    Boolean,
  );
  if (methods.length > 1) throw new InvalidRequest('use exactly one client authentication method');
  if (bodyId !== undefined && bodyId.length > MAX_ID) throw new InvalidClient('client authentication failed');

  if (authorization !== undefined) {
    if (!/^basic /i.test(authorization)) throw new InvalidClient('unsupported authorization scheme');
    const { clientId, secret } = parseBasic(authorization);
    if (bodyId !== undefined && bodyId !== clientId)
      throw new InvalidRequest('client_id does not match the authorization header');
    if (clientId.length > MAX_ID || secret.length > MAX_SECRET)
      throw new InvalidClient('client authentication failed');
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (bodySecret !== undefined) {
    if (bodyId === undefined) throw new InvalidRequest('client_secret requires client_id');
    if (bodySecret.length > MAX_SECRET) throw new InvalidClient('client authentication failed');
    return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
  }
  if (assertion !== undefined || assertionType !== undefined) {
    if (assertionType !== CLIENT_ASSERTION_TYPE_JWT_BEARER) {
      throw new InvalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE_JWT_BEARER}`);
    }
    if (assertion === undefined) throw new InvalidRequest('missing parameter "client_assertion"');
    return { method: 'private_key_jwt', clientId: bodyId, assertion };
  }
  if (bodyId === undefined) throw new InvalidClient('client authentication is required');
  return { method: 'none', clientId: bodyId };
}
