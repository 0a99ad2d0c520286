"""Writes and the values that come back: every field type, nullable, default and dynamic
fields, upsert, delete by keys and by filter with templates, partition key."""
from __future__ import annotations

import uuid

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def all_types_schema():
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("b", DataType.BOOL)
    schema.add_field("i8", DataType.INT8)
    schema.add_field("i16", DataType.INT16)
    schema.add_field("i32", DataType.INT32)
    schema.add_field("i64", DataType.INT64)
    schema.add_field("f", DataType.FLOAT)
    schema.add_field("d", DataType.DOUBLE)
    schema.add_field("s", DataType.VARCHAR, max_length=32)
    schema.add_field("j", DataType.JSON)
    schema.add_field("arr_i", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
    schema.add_field("arr_s", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8)
    schema.add_field("fv", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("hv", DataType.FLOAT16_VECTOR, dim=4)
    schema.add_field("bv", DataType.BFLOAT16_VECTOR, dim=4)
    schema.add_field("iv", DataType.INT8_VECTOR, dim=4)
    return schema


def row(i: int) -> dict:
    return {
        "id": i, "b": i % 2 == 0, "i8": -i, "i16": 300 + i, "i32": 70000 + i, "i64": 2**40 + i,
        "f": i + 0.5, "d": i / 4, "s": f"row{i}", "j": {"n": i, "tags": ["x", "y"][: i % 3]},
        "arr_i": list(range(i % 4)), "arr_s": [f"s{i}"],
        "fv": [float(i), 1.0, 0.0, 0.0],
        "hv": np.array([i, 1, 0, 0], dtype=np.float16),
        "iv": np.array([i, -1, 2, -3], dtype=np.int8),
        "extra": f"dyn{i}",
    }


def test_every_field_type_round_trips(client: MilvusClient):
    coll = name("types")
    client.create_collection(coll, schema=all_types_schema())
    index_params = client.prepare_index_params()
    for field in ["fv", "hv", "bv", "iv"]:
        index_params.add_index(field, index_type="FLAT", metric_type="L2")
    client.create_index(coll, index_params)
    client.load_collection(coll)

    # bfloat16 vectors go in as raw bytes (numpy has no bfloat16).
    rows = [row(i) for i in range(6)]
    for r in rows:
        r["bv"] = np.array([r["id"], 1, 0, 0], dtype=np.float32).view(np.uint32).__rshift__(16).astype(np.uint16).tobytes()
    assert client.insert(coll, rows)["insert_count"] == 6

    got = client.get(coll, ids=[3], output_fields=["*"])
    assert len(got) == 1
    r = got[0]
    assert r["id"] == 3 and r["b"] is False and r["i8"] == -3 and r["i16"] == 303 and r["i32"] == 70003
    assert r["i64"] == 2**40 + 3
    assert r["f"] == pytest.approx(3.5) and r["d"] == pytest.approx(0.75)
    assert r["s"] == "row3"
    assert r["j"] == {"n": 3, "tags": []}
    assert r["arr_i"] == [0, 1, 2] and r["arr_s"] == ["s3"]
    assert r["fv"] == pytest.approx([3.0, 1.0, 0.0, 0.0])
    assert np.frombuffer(r["hv"][0] if isinstance(r["hv"], list) else r["hv"], dtype=np.float16).tolist() == [3, 1, 0, 0]
    iv = r["iv"][0] if isinstance(r["iv"], list) else r["iv"]
    assert np.frombuffer(iv, dtype=np.int8).tolist() == [3, -1, 2, -3]
    assert r["extra"] == "dyn3"

    # Each vector type is searchable.
    hits = client.search(coll, data=[[2.0, 1.0, 0.0, 0.0]], anns_field="fv", limit=1)
    assert hits[0][0]["id"] == 2 and hits[0][0]["distance"] == pytest.approx(0.0)
    hits = client.search(coll, data=[np.array([4, 1, 0, 0], dtype=np.float16)], anns_field="hv", limit=1,
                         search_params={"metric_type": "L2"})
    assert hits[0][0]["id"] == 4
    hits = client.search(coll, data=[np.array([5, -1, 2, -3], dtype=np.int8)], anns_field="iv", limit=1,
                         search_params={"metric_type": "L2"})
    assert hits[0][0]["id"] == 5
    client.drop_collection(coll)


def test_binary_vectors(client: MilvusClient):
    coll = name("binary")
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=8)
    schema.add_field("binv", DataType.BINARY_VECTOR, dim=16)
    index_params = client.prepare_index_params()
    index_params.add_index("binv", index_type="BIN_FLAT", metric_type="HAMMING")
    client.create_collection(coll, schema=schema, index_params=index_params)
    client.insert(coll, [{"id": f"k{i}", "binv": bytes([i, 255 - i])} for i in range(8)])
    hits = client.search(coll, data=[bytes([1, 254])], limit=2, output_fields=["binv"])
    assert hits[0][0]["id"] == "k1" and hits[0][0]["distance"] == 0
    assert hits[0][1]["distance"] == 2  # k0 or k3: two bits differ
    got = client.get(coll, ids=["k3"])[0]["binv"]
    assert bytes(got[0] if isinstance(got, list) else got) == bytes([3, 252])
    client.drop_collection(coll)


def test_sparse_vectors(client: MilvusClient):
    coll = name("sparse")
    schema = MilvusClient.create_schema(auto_id=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    index_params = client.prepare_index_params()
    index_params.add_index("sv", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection(coll, schema=schema, index_params=index_params)
    res = client.insert(coll, [{"sv": {1: 0.5, 10: 1.0}}, {"sv": {2: 2.0}}, {"sv": {10: 0.1, 3000: 4.0}}])
    ids = list(res["ids"])
    assert len(ids) == 3 and len(set(ids)) == 3
    hits = client.search(coll, data=[{10: 2.0}], limit=2, output_fields=["sv"])
    assert [h["id"] for h in hits[0]] == [ids[0], ids[2]]
    assert [h["distance"] for h in hits[0]] == pytest.approx([2.0, 0.2])
    sv = hits[0][0]["entity"]["sv"]
    assert {int(k): pytest.approx(v) for k, v in sv.items()} == {1: 0.5, 10: 1.0}
    client.drop_collection(coll)


def test_nullable_default_and_dynamic_fields(client: MilvusClient):
    coll = name("nulls")
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("age", DataType.INT32, nullable=True)
    schema.add_field("city", DataType.VARCHAR, max_length=20, default_value="nowhere")
    schema.add_field("score", DataType.DOUBLE, nullable=True, default_value=1.5)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    index_params = client.prepare_index_params()
    index_params.add_index("vec", metric_type="L2")
    client.create_collection(coll, schema=schema, index_params=index_params)
    d = client.describe_collection(coll)
    fields = {f["name"]: f for f in d["fields"]}
    assert fields["age"]["nullable"] is True
    assert fields["city"]["default_value"].string_data == "nowhere"

    client.insert(coll, [
        {"id": 1, "age": 30, "city": "Oslo", "score": 2.0, "vec": [0, 0], "color": "red"},
        {"id": 2, "age": None, "vec": [1, 0], "color": "blue", "size": 3},
        {"id": 3, "vec": [2, 0]},
    ])
    rows = {r["id"]: r for r in client.query(coll, filter="id > 0", output_fields=["*"])}
    assert rows[1]["age"] == 30 and rows[1]["city"] == "Oslo" and rows[1]["score"] == 2.0 and rows[1]["color"] == "red"
    assert rows[2]["age"] is None and rows[2]["city"] == "nowhere" and rows[2]["score"] == 1.5
    assert rows[2]["color"] == "blue" and rows[2]["size"] == 3
    assert rows[3]["age"] is None and "color" not in rows[3]
    # Null-aware filters and dynamic keys in filters and output fields.
    assert [r["id"] for r in client.query(coll, filter="age is null", output_fields=["id"])] == [2, 3]
    assert [r["id"] for r in client.query(coll, filter='color == "blue"')] == [2]
    hits = client.search(coll, data=[[0, 0]], limit=3, output_fields=["color", "age"])
    assert [h["id"] for h in hits[0]] == [1, 2, 3]
    assert hits[0][0]["entity"] == {"color": "red", "age": 30}
    assert hits[0][1]["entity"]["age"] is None and hits[0][1]["entity"]["color"] == "blue"
    client.drop_collection(coll)


def test_upsert_and_delete(client: MilvusClient):
    coll = name("upsert")
    client.create_collection(coll, dimension=2)
    client.insert(coll, [{"id": i, "vector": [float(i), 0.0], "v": i} for i in range(10)])
    res = client.upsert(coll, [{"id": 3, "vector": [0.0, 3.0], "v": 33}, {"id": 42, "vector": [1.0, 1.0], "v": 42}])
    assert res["upsert_count"] == 2
    assert sorted(res["ids"]) == [3, 42]
    assert client.get(coll, ids=[3])[0]["v"] == 33
    assert client.get_collection_stats(coll)["row_count"] == 11

    assert client.delete(coll, ids=[0, 1, 99])["delete_count"] == 2
    assert client.delete(coll, filter="v >= {lo} and v < {hi}", filter_params={"lo": 5, "hi": 8})["delete_count"] == 3
    left = sorted(r["id"] for r in client.query(coll, filter="id >= 0", output_fields=["id"]))
    assert left == [2, 3, 4, 8, 9, 42]
    client.drop_collection(coll)


def test_partial_upsert_merges_fields(client: MilvusClient):
    coll = name("partial")
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=20)
    schema.add_field("issue", DataType.INT32, nullable=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    index_params = client.prepare_index_params()
    index_params.add_index("vec", metric_type="L2")
    client.create_collection(coll, schema=schema, index_params=index_params)
    client.insert(coll, [
        {"id": 1, "title": "one", "issue": 10, "vec": [1, 1], "author": "ann", "year": 2020},
        {"id": 2, "title": "two", "issue": 20, "vec": [2, 2]},
    ])
    res = client.upsert(coll, [{"id": 1, "title": "uno", "year": 2021}, {"id": 2, "title": "dos"}], partial_update=True)
    assert res["upsert_count"] == 2
    rows = {r["id"]: r for r in client.query(coll, filter="id > 0", output_fields=["*"])}
    assert rows[1]["title"] == "uno" and rows[1]["issue"] == 10 and rows[1]["vec"] == [1.0, 1.0]
    assert rows[1]["author"] == "ann" and rows[1]["year"] == 2021
    assert rows[2]["title"] == "dos" and rows[2]["issue"] == 20 and rows[2]["vec"] == [2.0, 2.0]
    # A new key needs its required fields; the batch is refused as a whole.
    with pytest.raises(MilvusException, match="vec"):
        client.upsert(coll, [{"id": 1, "title": "x"}, {"id": 3, "title": "three"}], partial_update=True)
    assert client.get(coll, ids=[1], output_fields=["title"])[0]["title"] == "uno"
    # Without partial_update, left-out nullable fields become null.
    client.upsert(coll, [{"id": 2, "title": "deux", "vec": [2, 2]}])
    assert client.get(coll, ids=[2], output_fields=["issue"])[0]["issue"] is None
    client.drop_collection(coll)


def test_partition_key(client: MilvusClient):
    coll = name("pkey")
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tenant", DataType.VARCHAR, max_length=16, is_partition_key=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    index_params = client.prepare_index_params()
    index_params.add_index("vec", metric_type="L2")
    client.create_collection(coll, schema=schema, index_params=index_params, num_partitions=4)
    d = client.describe_collection(coll)
    assert d["num_partitions"] == 4
    assert next(f for f in d["fields"] if f["name"] == "tenant")["is_partition_key"] is True
    client.insert(coll, [{"id": i, "tenant": f"t{i % 3}", "vec": [float(i), 0]} for i in range(30)])
    hits = client.search(coll, data=[[0, 0]], limit=5, filter='tenant == "t1"', output_fields=["tenant"])
    assert [h["id"] for h in hits[0]] == [1, 4, 7, 10, 13]
    assert all(h["entity"]["tenant"] == "t1" for h in hits[0])
    assert client.query(coll, filter='tenant == "t2"', output_fields=["count(*)"])[0]["count(*)"] == 10
    client.drop_collection(coll)


def test_upsert_with_auto_id_replaces_rows(client: MilvusClient):
    coll = name("autoup")
    client.create_collection(coll, dimension=2, auto_id=True)
    first = list(client.insert(coll, [{"vector": [1.0, 0.0], "v": 1}, {"vector": [0.0, 1.0], "v": 2}])["ids"])
    res = client.upsert(coll, [{"id": first[0], "vector": [5.0, 5.0], "v": 10}])
    assert res["upsert_count"] == 1
    rows = client.query(coll, filter="", limit=10, output_fields=["v"])
    assert sorted(r["v"] for r in rows) == [2, 10]
    assert first[0] not in [r["id"] for r in rows]
    client.drop_collection(coll)


def test_concurrent_clients(osprey):
    from concurrent.futures import ThreadPoolExecutor

    coll = name("conc")
    setup = MilvusClient(uri=osprey.uri, timeout=10)
    setup.create_collection(coll, dimension=4, metric_type="L2")

    def work(worker: int) -> int:
        c = MilvusClient(uri=osprey.uri, timeout=30)
        found = 0
        for batch in range(5):
            base = worker * 1000 + batch * 100
            c.insert(coll, [{"id": base + i, "vector": [float(worker), float(batch), float(i), 1.0]} for i in range(100)])
            hits = c.search(coll, data=[[float(worker), float(batch), 0.0, 1.0]], limit=5)
            found += int(hits[0][0]["id"] == base)
        c.close()
        return found

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    assert results == [5, 5, 5, 5]
    assert setup.get_collection_stats(coll) == {"row_count": 2000}
    setup.drop_collection(coll)
    setup.close()


def test_stale_cached_schema_is_refreshed(osprey):
    import subprocess
    import sys

    coll = name("stale")
    writer = MilvusClient(uri=osprey.uri, timeout=10)
    writer.create_collection(coll, dimension=2)  # dynamic field on
    writer.insert(coll, [{"id": 1, "vector": [1.0, 0.0], "b": 5}])  # caches the schema
    # Another process (with its own schema cache) re-creates the collection with `b` as a
    # real field.
    script = f"""
from pymilvus import DataType, MilvusClient
c = MilvusClient(uri={osprey.uri!r}, timeout=10)
c.drop_collection({coll!r})
s = MilvusClient.create_schema(enable_dynamic_field=True)
s.add_field("id", DataType.INT64, is_primary=True)
s.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
s.add_field("b", DataType.INT64)
c.create_collection({coll!r}, schema=s)
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    # The stale schema packs `b` into $meta; the server answers SchemaMismatch, and pymilvus
    # describes the collection again and retries.
    assert writer.insert(coll, [{"id": 2, "vector": [0.0, 1.0], "b": 7}])["insert_count"] == 1
    assert writer.get(coll, ids=[2], output_fields=["b"])[0]["b"] == 7
    writer.drop_collection(coll)
    writer.close()
