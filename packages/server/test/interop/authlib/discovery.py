"""Discovery: both well-known documents, checked with Authlib's metadata models.

Prints, for each document, the metadata and what Authlib's `validate()` says: "ok" or the message of the
ValueError it raised, and the same with Authlib's one check that is stricter than the RFC left out
(see `rfc_response_types`).
"""
import requests

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from common import TIMEOUT, emit, read_input


def rfc_response_types(metadata):
    """RFC 8414 §2 makes `response_types_supported` REQUIRED as a JSON array of the response types the
    server supports. A server with no authorization endpoint supports none, so the truthful value is `[]`
    (RFC 7591 §2.1 pairs `client_credentials` and the other token-endpoint grants with no response type).
    Authlib 1.2 tests `if not value`, which treats an empty array like an absent member; this is the RFC's
    rule: present, and an array."""
    value = metadata.get('response_types_supported')
    if value is None:
        raise ValueError('"response_types_supported" is required')
    if not isinstance(value, list):
        raise ValueError('"response_types_supported" MUST be JSON array')


def check(model, document):
    metadata = model(document)
    result = {}
    try:
        metadata.validate()
        result['validate'] = 'ok'
    except ValueError as error:
        result['validate'] = str(error)
    # The same checks, with Authlib's empty-array rule replaced by the RFC's.
    metadata.validate_response_types_supported = lambda: rfc_response_types(metadata)
    try:
        metadata.validate()
        result['validate_rfc_response_types'] = 'ok'
    except ValueError as error:
        result['validate_rfc_response_types'] = str(error)
    return result


def main():
    issuer = read_input()['issuer']
    out = {}
    for name, path, model in (
        ('oauth', '/.well-known/oauth-authorization-server', AuthorizationServerMetadata),
        ('openid', '/.well-known/openid-configuration', OpenIDProviderMetadata),
    ):
        response = requests.get(issuer + path, timeout=TIMEOUT)
        document = response.json()
        out[name] = {
            'status': response.status_code,
            'content_type': response.headers.get('content-type'),
            'metadata': document,
            **check(model, document),
        }
    emit(out)


if __name__ == '__main__':
    main()
