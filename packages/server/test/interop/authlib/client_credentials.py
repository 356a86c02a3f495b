"""Client credentials (RFC 6749 §4.4) through Authlib's OAuth2Session with one client-authentication
method, then introspection (RFC 7662) and revocation (RFC 7009) with the same authentication.

Input: issuer, client_id, method (client_secret_basic | client_secret_post | private_key_jwt), and
`secret` or, for private_key_jwt, `private_key_pem` and `alg`.
"""
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from common import TIMEOUT, discover, emit, oauth_error, read_input, verify_access_token


def session_for(case, assertion_audience=None, scope=None):
    method = case['method']
    if method == 'private_key_jwt':
        # Authlib's documented use: the private key stands where the secret would, and the auth method is
        # registered with the token endpoint, which becomes the assertion's `aud` at every endpoint.
        session = OAuth2Session(
            case['client_id'],
            case['private_key_pem'],
            token_endpoint_auth_method='private_key_jwt',
            # Authlib would otherwise send the private key as a client_secret_basic password to the
            # revocation and introspection endpoints (its default whenever a "secret" is set).
            revocation_endpoint_auth_method='private_key_jwt',
            scope=scope,
            default_timeout=TIMEOUT,
        )
        session.register_client_auth_method(PrivateKeyJWT(assertion_audience, alg=case['alg']))
        return session
    return OAuth2Session(
        case['client_id'],
        case['secret'],
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        scope=scope,
        default_timeout=TIMEOUT,
    )


def main():
    case = read_input()
    metadata = discover(case['issuer'])
    token_endpoint = metadata['token_endpoint']
    session = session_for(case, token_endpoint)
    out = {}

    token = session.fetch_token(token_endpoint, grant_type='client_credentials', scope='read')
    out['token'] = dict(token)
    out['verified'] = verify_access_token(metadata, token['access_token'])

    # The shortest form: the scope set on the session, no grant type named (Authlib guesses
    # client_credentials when there is no code and no password).
    out['guessed_grant'] = dict(session_for(case, token_endpoint, scope='write').fetch_token(token_endpoint))
    # No scope asked: the whole ceiling.
    out['default_scope'] = session.fetch_token(token_endpoint, grant_type='client_credentials').get('scope')
    out['wider_scope'] = oauth_error(
        lambda: session.fetch_token(token_endpoint, grant_type='client_credentials', scope='admin')
    )

    introspected = session.introspect_token(
        metadata['introspection_endpoint'], token=token['access_token'], token_type_hint='access_token'
    )
    out['introspection'] = {'status': introspected.status_code, 'body': introspected.json()}
    revoked = session.revoke_token(
        metadata['revocation_endpoint'], token=token['access_token'], token_type_hint='access_token'
    )
    out['revocation'] = {'status': revoked.status_code, 'body': revoked.text}
    after = session.introspect_token(metadata['introspection_endpoint'], token=token['access_token'])
    out['introspection_after_revocation'] = {'status': after.status_code, 'body': after.json()}

    if case['method'] == 'private_key_jwt':
        # Authlib's other form, PrivateKeyJWT() with no token endpoint, signs each assertion for the URL
        # it is sent to. At the token endpoint that is the token endpoint URL, which the server accepts.
        plain = session_for(case, None)
        out['default_audience_token'] = plain.fetch_token(
            token_endpoint, grant_type='client_credentials', scope='read'
        ).get('scope')
        # At the introspection endpoint it is that endpoint's URL: not the issuer, not the token endpoint,
        # so it is refused (CA-04: an assertion's audience is the issuer or the token endpoint only).
        refused = plain.introspect_token(metadata['introspection_endpoint'], token=token['access_token'])
        out['default_audience_introspection'] = {'status': refused.status_code, 'body': refused.json()}

    emit(out)


if __name__ == '__main__':
    main()
