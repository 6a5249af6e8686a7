"""A workload getting a Tessera token with Python authlib's AssertionSession (RFC 7523 §2.1).

authlib signs the assertion itself with the workload's key (as a service account key is used),
posts it as the jwt-bearer grant and parses the answer. Prints the token response, or the OAuth
error, as JSON; exits 1 on an error.
"""
import argparse
import json
import sys

from authlib.integrations.requests_client import AssertionSession
from authlib.oauth2 import OAuth2Error


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token-endpoint", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--kid", required=True)
    parser.add_argument("--scope")
    args = parser.parse_args()
    with open(args.key_file, "rb") as key_file:
        key = key_file.read()
    session = AssertionSession(
        token_endpoint=args.token_endpoint,
        issuer=args.issuer,
        subject=args.subject,
        audience=args.audience,
        scope=args.scope,
        key=key,
        header={"alg": "ES256", "kid": args.kid},
        expires_in=300,
    )
    try:
        token = session.refresh_token()
    except OAuth2Error as error:
        print(json.dumps({"error": error.error, "error_description": error.description}))
        return 1
    print(json.dumps(dict(token)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
