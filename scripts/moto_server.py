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

from moto.dynamodb.models import DynamoDBBackend
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
# deep-copies the tables it touches to restore them on failure, records
# included: each transaction then costs more than the last, and moto's
# memory grows by gigabytes within a few thousand writes. And a restored
# table came back with a copy of its stream, so an iterator handed out
# before the failure read a stream nobody wrote to any more. Here a
# transaction's snapshot shares the table's stream; a failed transaction
# drops the records it added (no reader saw them: stream reads take the
# lock above) and gives the restored table its stream back, which is what
# DynamoDB does (a failed transaction writes nothing to the stream).
_sharing = threading.local()


def _shard_deepcopy(self, memo):
    if getattr(_sharing, "on", False):
        return self
    new = StreamShard.__new__(StreamShard)
    memo[id(self)] = new
    for k, v in self.__dict__.items():
        if k == "items":
            new.items = list(v)  # a record never changes once made
        else:
            setattr(new, k, copy.deepcopy(v, memo))
    return new


StreamShard.__deepcopy__ = _shard_deepcopy
_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items_keeping_streams(self, transact_items):
    kept = {}
    for item in transact_items:
        _, op = next(iter(item.items()))
        table = self.tables.get(op.get("TableName"))
        if table is not None and table.stream_shard is not None:
            kept[table.name] = (table.stream_shard, len(table.stream_shard.items))
    _sharing.on = True
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for name, (shard, n) in kept.items():
            del shard.items[n:]
            table = self.tables.get(name)
            if table is not None:
                shard.table = table
                table.stream_shard = shard
        raise
    finally:
        _sharing.on = False


DynamoDBBackend.transact_write_items = _transact_write_items_keeping_streams

# moto keeps every shard iterator it ever handed out (each GetRecords makes
# one more); a reader that polls needs only its latest, so the newest
# ten thousand are plenty.
_MAX_ITERATORS = 10000
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
