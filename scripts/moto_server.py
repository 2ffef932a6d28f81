"""Start moto's server with DynamoDB requests serialised.

moto's DynamoDB backend is not safe under concurrent requests: a
TransactWriteItems that fails restores a deep copy of each table it touched,
taken when it started, which undoes whatever other requests wrote meanwhile.
Real DynamoDB applies each write atomically and isolates transactions, so
the emulator is made to do the same by running one DynamoDB request at a
time. Other services (SQS long polls in particular) stay concurrent.

Usage: .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import threading

from moto.moto_server import werkzeug_app
from moto.server import main

_dynamodb = threading.Lock()
_dispatch = werkzeug_app.DomainDispatcherApplication.__call__


# Tests ask for this path to tell this server from a stock moto_server,
# which breaks DynamoDB's conditional writes under concurrent requests.
MARKER = "/_songqueue/dynamodb-serialised"


def _call(self, environ, start_response):
    if environ.get("PATH_INFO") == MARKER:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"DynamoDB requests run one at a time\n"]
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb:
            return _dispatch(self, environ, start_response)
    return _dispatch(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = _call

if __name__ == "__main__":
    main()
