"""RFC 6749 §5.2 error responses as Authlib parses them: the `error` code of its OAuthError, and the
HTTP status and WWW-Authenticate header the response carried (seen through Authlib's compliance hook).

Input: issuer, client_id and secret (a confidential client's; the script also sends a wrong one), and
public_client_id (a public device-flow client).
"""
from authlib.integrations.requests_client import OAuth2Session

from common import TIMEOUT, discover, emit, oauth_error, read_input


def recording_session(client_id, secret, seen, method='client_secret_basic'):
    session = OAuth2Session(
        client_id,
        secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        default_timeout=TIMEOUT,
    )

    def record(response):
        seen.append(
            {'status': response.status_code, 'www_authenticate': response.headers.get('www-authenticate')}
        )
        return response

    session.register_compliance_hook('access_token_response', record)
    session.register_compliance_hook('refresh_token_response', record)
    return session


def failure(session, seen, call):
    seen.clear()
    result = oauth_error(lambda: call(session))
    result.update(seen[-1])
    return result


def main():
    case = read_input()
    metadata = discover(case['issuer'])
    token_endpoint = metadata['token_endpoint']
    seen = []
    good = recording_session(case['client_id'], case['secret'], seen)
    wrong_basic = recording_session(case['client_id'], 'clvs_not-the-secret', seen)
    wrong_post = recording_session(case['client_id'], 'clvs_not-the-secret', seen, 'client_secret_post')
    public = recording_session(case['public_client_id'], None, seen, 'none')
    cc = lambda s: s.fetch_token(token_endpoint, grant_type='client_credentials')  # noqa: E731
    out = {
        'wrong_secret_basic': failure(wrong_basic, seen, cc),
        'wrong_secret_post': failure(wrong_post, seen, cc),
        'unknown_grant_type': failure(
            good, seen, lambda s: s.fetch_token(token_endpoint, grant_type='urn:example:no-such-grant')
        ),
        # The password grant (RFC 6749 §4.3) is not offered (RFC 9700 §2.4), whatever Authlib sends.
        'password_grant': failure(
            good,
            seen,
            lambda s: s.fetch_token(token_endpoint, username='someone', password='something'),
        ),
        # The refresh_token grant is the device flow's: this client may not use it at all.
        'refresh_not_allowed': failure(
            good, seen, lambda s: s.refresh_token(token_endpoint, refresh_token='clvr_not-a-refresh-token')
        ),
        # A public device-flow client with a device code that is not one (DF-09).
        'bogus_device_code': failure(
            public,
            seen,
            lambda s: s.fetch_token(
                token_endpoint,
                grant_type='urn:ietf:params:oauth:grant-type:device_code',
                device_code='not-a-device-code',
            ),
        ),
        'bogus_refresh_token': failure(
            public, seen, lambda s: s.refresh_token(token_endpoint, refresh_token='clvr_not-a-refresh-token')
        ),
        'scope_beyond_ceiling': failure(
            good, seen, lambda s: s.fetch_token(token_endpoint, grant_type='client_credentials', scope='admin')
        ),
    }
    # Introspection with a wrong secret: Authlib hands back the response (it raises only at the token
    # endpoint), so the status and body are read from it.
    response = wrong_basic.introspect_token(metadata['introspection_endpoint'], token='anything')
    out['introspection_wrong_secret'] = {
        'status': response.status_code,
        'www_authenticate': response.headers.get('www-authenticate'),
        'body': response.json(),
    }
    emit(out)


if __name__ == '__main__':
    main()
