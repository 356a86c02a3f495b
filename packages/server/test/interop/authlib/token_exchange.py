"""Token exchange (RFC 8693) of a Clavis API key for an access token, through Authlib's `fetch_token`
with the token-exchange grant type (Authlib 1.2 has no client helper for RFC 8693; `fetch_token` sends
any grant type with its parameters, and parses the answer and its errors).

Input: issuer, client_id (the key's owner, sent as `client_id`: the exchange needs no client
authentication, the key is the credential), api_key.
"""
from authlib.integrations.requests_client import OAuth2Session

from common import TIMEOUT, discover, emit, oauth_error, read_input, verify_access_token

GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
API_KEY = 'urn:clavis:params:oauth:token-type:api_key'


def main():
    case = read_input()
    metadata = discover(case['issuer'])
    token_endpoint = metadata['token_endpoint']
    session = OAuth2Session(case['client_id'], default_timeout=TIMEOUT)

    def exchange(key):
        return session.fetch_token(
            token_endpoint,
            grant_type=GRANT,
            subject_token=key,
            subject_token_type=API_KEY,
            requested_token_type='urn:ietf:params:oauth:token-type:access_token',
        )

    token = exchange(case['api_key'])
    key = case['api_key']
    broken = key[:-1] + ('A' if key[-1] != 'A' else 'B')
    out = {
        'token': dict(token),
        'verified': verify_access_token(metadata, token['access_token']),
        # A well-formed key whose checksum does not match: the same answer as any unusable key.
        'bad_key': oauth_error(lambda: exchange(broken)),
    }
    emit(out)


if __name__ == '__main__':
    main()
