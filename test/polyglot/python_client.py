#!/usr/bin/python3
"""Calls Tessera over gRPC (h2c) from Python, with stubs generated from proto/tessera/v1.

Runs on Debian's python3-grpcio and python3-protobuf; the stubs come from Debian's
python3-grpc-tools, exactly as the README tells a Python team to make them:

    python3 -m grpc_tools.protoc -I proto --python_out=DIR --grpc_python_out=DIR proto/tessera/v1/*.proto

Usage:

    /usr/bin/python3 test/polyglot/python_client.py 127.0.0.1:8080 CLIENT_ID CLIENT_SECRET \
        [--scope S]... [--audience A]... [--authenticate-as ID:SECRET] \
        [--required-scope S]... [--required-audience A] [--stubs DIR]

1. TokenService.IssueToken with the client's id and secret;
2. IntrospectionService.AuthenticateToken of that token, authenticating with `authorization: Basic`
   metadata (the client's own credentials, or --authenticate-as: a resource server's).

Prints one JSON object: {"issue": {...}, "token_header": {...}, "authenticate": {...}, "runtime": {...}}.
On an RPC failure prints {"error": {"rpc", "code", "details"}} and exits 1.
"""

import argparse
import base64
import glob
import json
import pathlib
import subprocess
import sys
import tempfile
import urllib.parse

REPO = pathlib.Path(__file__).resolve().parents[2]


def generate_stubs(out: pathlib.Path) -> None:
    """The README's command: message classes (_pb2) and gRPC stubs (_pb2_grpc) into `out`."""
    protos = sorted(glob.glob("proto/tessera/v1/*.proto", root_dir=REPO))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", "proto", f"--python_out={out}", f"--grpc_python_out={out}", *protos],
        cwd=REPO,
        check=True,
        timeout=120,
    )


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: id and secret form-urlencoded, then base64."""
    encode = lambda value: urllib.parse.quote_plus(value, safe="")
    return "Basic " + base64.b64encode(f"{encode(client_id)}:{encode(client_secret)}".encode()).decode()


def jwt_header(token: str) -> dict:
    encoded = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def call(args: argparse.Namespace) -> int:
    import grpc
    from google.protobuf import __version__ as protobuf_version
    from google.protobuf import json_format
    from tessera.v1 import introspection_service_pb2, introspection_service_pb2_grpc, token_service_pb2, token_service_pb2_grpc

    to_dict = lambda message: json_format.MessageToDict(message, preserving_proto_field_name=True)
    caller_id, caller_secret = args.authenticate_as.split(":", 1) if args.authenticate_as else (args.client_id, args.client_secret)

    with grpc.insecure_channel(args.address) as channel:
        tokens = token_service_pb2_grpc.TokenServiceStub(channel)
        introspection = introspection_service_pb2_grpc.IntrospectionServiceStub(channel)
        rpc = "IssueToken"
        try:
            issued = tokens.IssueToken(
                token_service_pb2.IssueTokenRequest(
                    client_id=args.client_id, client_secret=args.client_secret, scopes=args.scope, audiences=args.audience
                ),
                timeout=30,
            )
            rpc = "AuthenticateToken"
            authenticated = introspection.AuthenticateToken(
                introspection_service_pb2.AuthenticateTokenRequest(
                    token=issued.access_token, required_scopes=args.required_scope, required_audience=args.required_audience
                ),
                metadata=(("authorization", basic_authorization(caller_id, caller_secret)),),
                timeout=30,
            )
        except grpc.RpcError as error:
            print(json.dumps({"error": {"rpc": rpc, "code": error.code().name, "details": error.details()}}))
            return 1

    print(
        json.dumps(
            {
                "issue": to_dict(issued),
                "token_header": jwt_header(issued.access_token),
                "authenticate": to_dict(authenticated),
                "runtime": {"python": sys.executable, "grpcio": grpc.__version__, "protobuf": protobuf_version},
            }
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Issue a Tessera token and authenticate it, over gRPC.")
    parser.add_argument("address", help="host:port of Tessera (cleartext HTTP/2)")
    parser.add_argument("client_id")
    parser.add_argument("client_secret")
    parser.add_argument("--scope", action="append", default=[], help="requested scope (repeatable)")
    parser.add_argument("--audience", action="append", default=[], help="requested audience (repeatable)")
    parser.add_argument("--authenticate-as", help="ID:SECRET for AuthenticateToken; default: the client's own")
    parser.add_argument("--required-scope", action="append", default=[], help="scope AuthenticateToken must find (repeatable)")
    parser.add_argument("--required-audience", default="", help="audience AuthenticateToken must find")
    parser.add_argument("--stubs", type=pathlib.Path, help="where generated stubs are; default: generate them now")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tessera-stubs-") as scratch:
        stubs = args.stubs
        if stubs is None:
            stubs = pathlib.Path(scratch)
            generate_stubs(stubs)
        sys.path.insert(0, str(stubs))
        return call(args)


if __name__ == "__main__":
    sys.exit(main())
