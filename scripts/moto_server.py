"""Start moto's server with DynamoDB requests serialised (and its streams
kept cheap: see below).

moto's DynamoDB backend is not safe under concurrent requests: a
TransactWriteItems that fails restores a deep copy of each table it touched,
taken when it started, which undoes whatever other requests wrote meanwhile.
Real DynamoDB applies each write atomically and isolates transactions, so
the emulator is made to do the same by running one DynamoDB request at a
time, and the table's stream reads (DynamoDB Streams) with them. Other
services (SQS long polls in particular) stay concurrent.

Usage: .venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import copy
import threading

from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
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
    # DynamoDB_20120810.* and DynamoDBStreams_20120810.*: a stream read
    # between a failed transaction's writes and their undoing would see
    # records of a change that never happened.
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with _dynamodb:
            return _dispatch(self, environ, start_response)
    return _dispatch(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = _call


# A table with a stream (the generations table's, the domain events'
# outbox) keeps every record of it in moto, and every TransactWriteItems
# deep-copies the table it touches to restore it on failure, records
# included: each transaction then costs more than the last, and moto's
# memory grows by gigabytes within a few thousand writes. A record never
# changes once made, so the copy shares them and copies only the list,
# which restores exactly what the deep copy did.
def _shard_deepcopy(self, memo):
    new = StreamShard.__new__(StreamShard)
    memo[id(self)] = new
    for k, v in self.__dict__.items():
        if k == "items":
            new.items = list(v)
        else:
            setattr(new, k, copy.deepcopy(v, memo))
    return new


StreamShard.__deepcopy__ = _shard_deepcopy

# moto keeps every shard iterator it ever handed out (each GetRecords makes
# one more), and each holds its shard, and a table restored by a failed
# transaction with it. A reader that polls takes a fresh one per read
# (internal/eventsource), so the newest thousand are plenty.
_MAX_ITERATORS = 1000
_get_shard_iterator = DynamoDBStreamsBackend.get_shard_iterator
_get_records = DynamoDBStreamsBackend.get_records


def _trim(backend):
    its = backend.shard_iterators
    while len(its) > _MAX_ITERATORS:
        del its[next(iter(its))]


def _get_shard_iterator_trimmed(self, *args, **kwargs):
    it = _get_shard_iterator(self, *args, **kwargs)
    _trim(self)
    return it


def _get_records_trimmed(self, *args, **kwargs):
    out = _get_records(self, *args, **kwargs)
    _trim(self)
    return out


DynamoDBStreamsBackend.get_shard_iterator = _get_shard_iterator_trimmed
DynamoDBStreamsBackend.get_records = _get_records_trimmed

if __name__ == "__main__":
    main()
