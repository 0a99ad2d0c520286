"""Error answers: Milvus's codes, both code fields, and messages that say what is wrong."""
from __future__ import annotations

import uuid

import pytest
from pymilvus import DataType, MilvusClient, MilvusException


@pytest.fixture(scope="module")
def coll(osprey):
    client = MilvusClient(uri=osprey.uri, timeout=10)
    coll = f"err_{uuid.uuid4().hex[:8]}"
    client.create_collection(coll, dimension=4)
    client.insert(coll, [{"id": i, "vector": [float(i), 0, 0, 1]} for i in range(5)])
    yield coll
    client.drop_collection(coll)
    client.close()


def test_unknown_collection(client):
    missing = "no_such_collection"
    assert client.has_collection(missing) is False
    for call in (lambda: client.describe_collection(missing),
                 lambda: client.search(missing, data=[[0.0] * 4], limit=1),
                 lambda: client.query(missing, filter="id > 0"),
                 lambda: client.get_collection_stats(missing)):
        with pytest.raises(MilvusException) as err:
            call()
        assert err.value.code == 100
        assert missing in err.value.message


def test_wrong_dimension(client, coll):
    with pytest.raises(MilvusException) as err:
        client.insert(coll, [{"id": 99, "vector": [1.0, 2.0]}])
    assert err.value.code == 1100
    assert err.value.message == "field 'vector': the vectors have 2 dimensions; the field has 4"
    with pytest.raises(MilvusException) as err:
        client.search(coll, data=[[1.0, 2.0, 3.0]], limit=1)
    assert err.value.code == 1100
    assert "dimension" in err.value.message or "dim" in err.value.message


def test_bad_filter(client, coll):
    with pytest.raises(MilvusException) as err:
        client.query(coll, filter="id >>> 3")
    assert err.value.code == 1100
    assert "filter" in err.value.message
    with pytest.raises(MilvusException) as err:
        client.search(coll, data=[[0.0] * 4], limit=1, filter="nonexistent_field ==")
    assert err.value.code == 1100
    with pytest.raises(MilvusException) as err:
        client.delete(coll, filter="id in [1, ")
    assert err.value.code == 1100


def test_unbounded_query_and_bad_limits(client, coll):
    with pytest.raises(MilvusException) as err:
        client.query(coll, filter="")
    assert err.value.code == 1100
    with pytest.raises(MilvusException) as err:
        client.search(coll, data=[[0.0] * 4], limit=20_000)
    assert err.value.code == 1100


def test_duplicate_names(client, coll):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("id", DataType.INT64)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    with pytest.raises(MilvusException) as err:
        client.create_collection(f"dup_{uuid.uuid4().hex[:6]}", schema=schema)
    assert err.value.code == 1100
    assert "duplicate" in err.value.message
    with pytest.raises(MilvusException) as err:
        client.create_collection(coll, dimension=8)
    assert err.value.code == 1100


def test_unknown_field_partition_and_index(client, coll):
    with pytest.raises(MilvusException) as err:
        client.query(coll, filter="id > 0", output_fields=["id"], partition_names=["nope"])
    assert err.value.code == 200
    assert client.describe_index(coll, "nope") is None
    with pytest.raises(MilvusException) as err:
        client.drop_index(coll, "nope")
    assert err.value.code == 700
    with pytest.raises(MilvusException) as err:
        client.search(coll, data=[[0.0] * 4], anns_field="nope", limit=1)
    assert err.value.code in (1100, 1700)


def test_invalid_schema(client):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    with pytest.raises(MilvusException) as err:
        client.create_collection(f"novec_{uuid.uuid4().hex[:6]}", schema=schema)
    assert err.value.code == 1100
    assert "vector" in err.value.message



def test_input_errors_are_marked(client, coll):
    # Both codes are set: merr 1100 and the legacy IllegalArgument (5), marked as input errors.
    with pytest.raises(MilvusException) as err:
        client.query(coll, filter="id >>> 3")
    assert err.value.code == 1100
    assert err.value.compatible_code == 5
    assert err.value.is_input_error is True


def test_unsupported_features_say_so(client, coll):
    from pymilvus import Function, FunctionType

    decay = Function(name="d", input_field_names=["id"], function_type=FunctionType.RERANK,
                     params={"reranker": "decay", "function": "gauss", "origin": 0, "scale": 10})
    with pytest.raises(MilvusException) as err:
        client.search(coll, data=[[0.0] * 4], limit=2, ranker=decay)
    assert err.value.code == 1100 and "not supported" in err.value.message
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=100, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", input_field_names=["text"], output_field_names=["sparse"],
                                 function_type=FunctionType.BM25))
    with pytest.raises(MilvusException) as err:
        client.create_collection(f"bm25_{uuid.uuid4().hex[:6]}", schema=schema)
    assert err.value.code == 1100 and "not supported" in err.value.message


def test_ordering_is_refused_not_ignored(client, coll):
    with pytest.raises(MilvusException) as err:
        client.query(coll, filter="id > 0", order_by_fields=["id:desc"])
    assert err.value.code == 1100 and "order_by_fields" in err.value.message
