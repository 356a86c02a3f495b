"""The JWT bearer grant (RFC 7523 §2.1) through Authlib's AssertionSession: Authlib signs the workload's
token itself, as the workload's platform would, and trades it for an access token.

Input: issuer, workload_issuer, subject, private_key_pem, alg. The assertion's audience is Authlib's
default, the token endpoint URL; the federation the test registers trusts exactly that.
"""
from authlib.integrations.requests_client import AssertionSession

from common import TIMEOUT, discover, emit, oauth_error, read_input, verify_access_token


def main():
    case = read_input()
    metadata = discover(case['issuer'])

    def session(subject):
        return AssertionSession(
            metadata['token_endpoint'],
            issuer=case['workload_issuer'],
            subject=subject,
            key=case['private_key_pem'],
            alg=case['alg'],
            default_timeout=TIMEOUT,
        )

    token = session(case['subject']).refresh_token()
    out = {
        'token': dict(token),
        'verified': verify_access_token(metadata, token['access_token']),
        # A subject the federation does not trust: RFC 7523 §3.1 says invalid_grant.
        'other_subject': oauth_error(lambda: session(case['subject'] + '-other').refresh_token()),
    }
    emit(out)


if __name__ == '__main__':
    main()
