"""The device authorization grant (RFC 8628) through Authlib's OAuth2Session, in two steps with the
person's decision (made by the test, server-side) in between.

step "start": the device authorization request, then two polls straight after each other:
  `authorization_pending`, then `slow_down` (RFC 8628 §3.5) as Authlib's OAuthError.
step "finish": with the approved device code, the token response, then refresh (rotated), then the
  rotated-out refresh token presented again, then the one that replaced it (its family is revoked),
  then the used device code again.

Input: issuer, client_id (a public client), scope, step, and device_code (finish).
Authlib 1.2 has no device-flow helper: the device authorization request is a plain POST through the
session with its client authentication, and the polls are `fetch_token` with the device grant type.
"""
from authlib.integrations.requests_client import OAuth2Session

from common import TIMEOUT, discover, emit, oauth_error, read_input, verify_access_token, verify_id_token

DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'


def main():
    case = read_input()
    metadata = discover(case['issuer'])
    token_endpoint = metadata['token_endpoint']
    # A public client: no secret, so Authlib authenticates with `none` (client_id in the body). The scope
    # is set on the session, as Authlib users do: Authlib then sends it with every poll and refresh too.
    session = OAuth2Session(case['client_id'], scope=case['scope'], default_timeout=TIMEOUT)
    out = {'auth_method': session.token_endpoint_auth_method}

    def poll():
        return session.fetch_token(token_endpoint, grant_type=DEVICE_GRANT, device_code=case['device_code'])

    if case['step'] == 'start':
        response = session.post(
            metadata['device_authorization_endpoint'],
            data={'scope': session.scope},
            auth=session.client_auth(session.token_endpoint_auth_method),
            withhold_token=True,
        )
        out['device_authorization'] = {'status': response.status_code, 'body': response.json()}
        case['device_code'] = response.json()['device_code']
        out['first_poll'] = oauth_error(poll)
        out['second_poll'] = oauth_error(poll)
    else:
        token = poll()
        out['token'] = dict(token)
        out['verified'] = verify_access_token(metadata, token['access_token'])
        if 'id_token' in token:
            out['id_token_verified'] = verify_id_token(metadata, case['client_id'], token['id_token'])
        first_refresh_token = token['refresh_token']
        refreshed = session.refresh_token(token_endpoint, refresh_token=first_refresh_token)
        out['refreshed'] = dict(refreshed)
        out['refreshed_verified'] = verify_access_token(metadata, refreshed['access_token'])
        if 'id_token' in refreshed:
            out['refreshed_id_token_verified'] = verify_id_token(metadata, case['client_id'], refreshed['id_token'])
        out['reused_refresh_token'] = oauth_error(
            lambda: session.refresh_token(token_endpoint, refresh_token=first_refresh_token)
        )
        out['successor_after_reuse'] = oauth_error(
            lambda: session.refresh_token(token_endpoint, refresh_token=refreshed['refresh_token'])
        )
        # Last, as presenting a used device code again revokes what it produced (DF-08).
        out['replayed_device_code'] = oauth_error(poll)
    emit(out)


if __name__ == '__main__':
    main()
