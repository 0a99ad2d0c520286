"""Transport behaviour pymilvus depends on: keepalive pings on idle connections are
accepted (no GOAWAY too_many_pings), and requests up to 256 MiB are accepted."""
from __future__ import annotations

import threading
import time

import grpc
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc, schema_pb2

# Pings more often than pymilvus (10 s) but no more often than the server allows (5 s),
# with no call in flight and no limit on pings without data.
KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 5500),
    ("grpc.keepalive_timeout_ms", 5000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]
IDLE_S = 18.0  # three pings


def test_idle_keepalive_pings_keep_the_connection(osprey):
    channel = grpc.insecure_channel(f"{osprey.host}:{osprey.port}", options=KEEPALIVE_OPTIONS)
    states, lock = [], threading.Lock()

    def record(state):
        with lock:
            states.append(state)

    stub = milvus_pb2_grpc.MilvusServiceStub(channel)
    try:
        assert stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=10).version
        channel.subscribe(record, try_to_connect=False)
        time.sleep(IDLE_S)
        assert stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=10).version
        with lock:
            seen = list(states)
        # A GOAWAY would take the channel out of READY (to IDLE, then CONNECTING).
        assert seen and all(s == grpc.ChannelConnectivity.READY for s in seen), seen
    finally:
        channel.close()


def test_large_request_is_accepted(osprey):
    channel = grpc.insecure_channel(
        f"{osprey.host}:{osprey.port}",
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])
    try:
        stub = milvus_pb2_grpc.MilvusServiceStub(channel)
        column = schema_pb2.FieldData(field_name="vector", type=schema_pb2.DataType.BinaryVector)
        column.vectors.dim = 8
        column.vectors.binary_vector = bytes(200 << 20)  # 200 MiB
        request = milvus_pb2.InsertRequest(collection_name="big", fields_data=[column],
                                           num_rows=200 << 20)
        # There is no collection "big"; what matters is that the server reads the whole
        # request and answers with a Milvus status instead of a transport error.
        response = stub.Insert(request, timeout=60)
        assert response.status.code != 0 and response.status.reason
    finally:
        channel.close()
