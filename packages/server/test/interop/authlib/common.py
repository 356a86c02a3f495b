"""Shared by the Authlib interop scripts: the input, discovery, error capture and JSON output.

Each script reads one JSON object from the CLAVIS_INTEROP_INPUT environment variable (the issuer, the
client's credentials, the step to run) and prints one JSON object on stdout, which the vitest suite
asserts on. Nothing here talks to the server except through Authlib and the requests session it uses.
"""
import json
import os
import sys

# The test server's issuer is plain http on loopback (127.0.0.1, which Authlib 1.2's own exception for
# `http://localhost:` does not cover). Authlib refuses insecure transport unless told otherwise; this is
# the switch Authlib documents for local development. It must be set before Authlib checks a URL.
os.environ.setdefault('AUTHLIB_INSECURE_TRANSPORT', '1')

import requests  # noqa: E402
from authlib.common.errors import AuthlibBaseError  # noqa: E402
from authlib.jose import JsonWebKey, JsonWebToken, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

TIMEOUT = 10


def read_input():
    return json.loads(os.environ['CLAVIS_INTEROP_INPUT'])


def emit(result):
    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write('\n')


def discover(issuer):
    """RFC 8414 §3: the metadata at the issuer's well-known path."""
    response = requests.get(issuer + '/.well-known/oauth-authorization-server', timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def oauth_error(call):
    """Runs `call`, which must fail with the error Authlib parsed from an RFC 6749 §5.2 response (the
    sessions' OAuthError, or OAuth2Error from AssertionSession); returns its `error` and description."""
    try:
        call()
    except AuthlibBaseError as error:
        return {'error': error.error, 'description': error.description}
    raise AssertionError('expected an OAuth error from Authlib, got a success')


def verify_access_token(metadata, access_token):
    """Verifies an access token as a resource server would with Authlib's JOSE: the signature against
    the published JWKS (`jwks_uri`), `iss`, `aud`, `exp`, and the RFC 9068 `typ` header."""
    jwks = requests.get(metadata['jwks_uri'], timeout=TIMEOUT).json()
    key_set = JsonWebKey.import_key_set(jwks)
    issuer = metadata['issuer']
    claims = jwt.decode(
        access_token,
        key_set,
        claims_options={
            'iss': {'essential': True, 'value': issuer},
            'aud': {'essential': True, 'value': issuer},
            'exp': {'essential': True},
            'sub': {'essential': True},
            'jti': {'essential': True},
        },
    )
    claims.validate(leeway=0)
    # Authlib's JWT decoder does not look at `typ`; RFC 9068 §4 says a resource server MUST check it.
    typ = claims.header.get('typ')
    if typ not in ('at+jwt', 'application/at+jwt'):
        raise AssertionError('access token typ is %r, not at+jwt' % typ)
    return {'header': dict(claims.header), 'claims': dict(claims)}


def verify_id_token(metadata, client_id, id_token):
    """Verifies an ID token as an OpenID Connect client with Authlib's defaults would: RS256 only (the
    default `id_token_signed_response_alg`, OIDC Core §3.1.3.7), against the published JWKS, with
    Authlib's ID token claim checks (`iss`, `aud`, `exp`, `iat`, `sub`)."""
    jwks = requests.get(metadata['jwks_uri'], timeout=TIMEOUT).json()
    key_set = JsonWebKey.import_key_set(jwks)
    claims = JsonWebToken(['RS256']).decode(
        id_token,
        key_set,
        claims_cls=CodeIDToken,
        claims_options={
            'iss': {'essential': True, 'value': metadata['issuer']},
            'aud': {'essential': True, 'value': client_id},
        },
    )
    claims.validate(leeway=0)
    return {'header': dict(claims.header), 'claims': dict(claims)}
