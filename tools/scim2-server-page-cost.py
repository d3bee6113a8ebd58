#!/usr/bin/env python3
"""What one page of GET /Users costs scim2-server, measured inside its own process.

Runs scim2-server's own application (as `scim2-server --bearer-token T` builds it) without a
socket, fills it with USERS users shaped like the ones adsync creates (ten /Bulk requests of
1,000), then answers each QUERY once and prints the CPU time it took, so the server's cost per
user can be told from the machine's load and the network. With PROFILE=1 the first query is
answered once more under cProfile and the 30 costliest calls are printed.

    target/scim-venv/bin/python tools/scim2-server-page-cost.py 10000 \
        'startIndex=4001&count=1000' 'startIndex=4001&count=1000&attributes=userName'

(target/scim-venv is where the interop tests install scim2-server 0.8.3.)
"""

import cProfile
import io
import json
import os
import pstats
import sys
import time

import scim2_server.testserver.cli as cli

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def call(app, method, path, query="", body=b""):
    """One request through the WSGI application; returns the status line and the body."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SCRIPT_NAME": "",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/scim+json",
        "HTTP_AUTHORIZATION": "Bearer T",
    }
    status = {}

    def start_response(line, headers, exc_info=None):
        status["line"] = line

    data = b"".join(app(environ, start_response))
    return status["line"], data


def user(i):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": f"user{i}@contoso.example",
        "externalId": f"00000000-0000-0000-0000-{i:012d}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "displayName": f"Given{i} Family{i}",
        "emails": [{"value": f"user{i}@contoso.example", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "title": "Engineer",
        "active": True,
        ENTERPRISE: {"department": "Sales", "employeeNumber": str(i)},
    }


def measure(app, users, queries):
    for start in range(0, users, 1000):
        ops = [
            {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user(i)}
            for i in range(start, min(start + 1000, users))
        ]
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}
        line, _ = call(app, "POST", "/v2/Bulk", body=json.dumps(body).encode())
        assert line.startswith("200"), line
    for query in queries:
        began = time.process_time()
        line, data = call(app, "GET", "/v2/Users", query)
        spent = time.process_time() - began
        print(f"{spent:.3f} s CPU, {len(data)} bytes, {line}: GET /v2/Users?{query}")
    if os.environ.get("PROFILE") == "1":
        profile = cProfile.Profile()
        profile.enable()
        call(app, "GET", "/v2/Users", queries[0])
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


class InProcess:
    """Stands in for the server cli.main would start: measures instead of listening."""

    def __init__(self, host, port, app, server_class=None):
        self.app = app

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def serve_forever(self):
        measure(self.app, USERS, QUERIES)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    USERS = int(sys.argv[1])
    QUERIES = sys.argv[2:]
    cli.make_server = InProcess
    sys.argv = ["scim2-server", "--bearer-token", "T"]
    cli.main()
