"""Collections through MilvusClient: quick create, custom schemas, describe, list, rename,
properties, statistics, load state, flush, compaction."""
from __future__ import annotations

import uuid

import pytest
from pymilvus import DataType, MilvusClient, MilvusException, SegmentState


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_quick_create_insert_search(client: MilvusClient):
    coll = name("quick")
    client.create_collection(coll, dimension=4)
    assert client.has_collection(coll)
    # Quick create indexes and loads the collection.
    assert client.list_indexes(coll) == ["vector"]
    index = client.describe_index(coll, "vector")
    assert index["index_type"] == "AUTOINDEX"
    assert index["metric_type"] == "COSINE"
    assert index["state"] == "Finished"
    assert client.get_load_state(coll)["state"].name == "Loaded"

    rows = [{"id": i, "vector": [1.0, float(i), 0.0, 0.0], "tag": f"t{i}"} for i in range(10)]
    result = client.insert(coll, rows)
    assert result["insert_count"] == 10
    assert list(result["ids"]) == list(range(10))

    hits = client.search(coll, data=[[1.0, 0.0, 0.0, 0.0]], limit=3, output_fields=["tag"])
    assert len(hits) == 1 and len(hits[0]) == 3
    assert hits[0][0]["id"] == 0
    assert hits[0][0]["distance"] == pytest.approx(1.0, abs=1e-6)
    assert hits[0][0]["entity"] == {"tag": "t0"}
    assert [h["id"] for h in hits[0]] == [0, 1, 2]
    client.drop_collection(coll)
    assert not client.has_collection(coll)


def test_quick_create_options(client: MilvusClient):
    coll = name("quick_str")
    client.create_collection(coll, dimension=3, primary_field_name="pk", id_type="string", max_length=64,
                             vector_field_name="emb", metric_type="L2")
    d = client.describe_collection(coll)
    pk = next(f for f in d["fields"] if f["name"] == "pk")
    assert pk["type"] == DataType.VARCHAR and pk["is_primary"] and pk["params"]["max_length"] == 64
    emb = next(f for f in d["fields"] if f["name"] == "emb")
    assert emb["type"] == DataType.FLOAT_VECTOR and emb["params"]["dim"] == 3
    assert client.describe_index(coll, "emb")["metric_type"] == "L2"
    client.insert(coll, [{"pk": "a", "emb": [0, 0, 0]}, {"pk": "b", "emb": [3, 4, 0]}])
    hits = client.search(coll, data=[[0, 0, 1]], limit=2, anns_field="emb")
    assert [h["pk"] for h in hits[0]] == ["a", "b"]
    assert [h["distance"] for h in hits[0]] == pytest.approx([1.0, 26.0])
    client.drop_collection(coll)


def test_describe_collection(client: MilvusClient):
    coll = name("desc")
    schema = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=False, description="things")
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=100)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=8)
    client.create_collection(coll, schema=schema, consistency_level="Strong", properties={"collection.ttl.seconds": "3600"})
    d = client.describe_collection(coll)
    assert d["collection_name"] == coll
    assert d["collection_id"] > 0
    assert d["auto_id"] is True
    assert d["description"] == "things"
    assert d["enable_dynamic_field"] is False
    assert d["consistency_level"] == 0  # Strong
    assert d["properties"] == {"collection.ttl.seconds": "3600"}
    assert d["created_timestamp"] > 0 and d["update_timestamp"] >= d["created_timestamp"]
    assert [(f["field_id"], f["name"]) for f in d["fields"]] == [(100, "id"), (101, "title"), (102, "embedding")]
    assert d["fields"][0]["auto_id"] is True
    assert d["num_partitions"] == 1
    # No index yet: listing is empty and describe_index answers None.
    assert client.list_indexes(coll) == []
    assert client.describe_index(coll, "embedding") is None
    client.drop_collection(coll)


def test_list_rename_and_drop(client: MilvusClient):
    a, b = name("lst"), name("lst")
    client.create_collection(a, dimension=2)
    assert a in client.list_collections()
    client.rename_collection(a, b)
    names = client.list_collections()
    assert b in names and a not in names
    client.drop_collection(b)
    assert b not in client.list_collections()
    # Dropping a missing collection is not an error, as in Milvus.
    client.drop_collection(b)


def test_create_twice_is_idempotent_and_conflicts_are_errors(client: MilvusClient):
    coll = name("twice")
    client.create_collection(coll, dimension=4)
    client.create_collection(coll, dimension=4)
    with pytest.raises(MilvusException) as err:
        client.create_collection(coll, dimension=8)
    assert err.value.code == 1100
    assert "already exists" in err.value.message
    client.drop_collection(coll)


def test_alter_and_drop_properties(client: MilvusClient):
    coll = name("props")
    client.create_collection(coll, dimension=2)
    before = client.describe_collection(coll)["update_timestamp"]
    client.alter_collection_properties(coll, properties={"collection.ttl.seconds": 60})
    d = client.describe_collection(coll)
    assert d["properties"]["collection.ttl.seconds"] == "60"
    assert d["update_timestamp"] > before
    client.drop_collection_properties(coll, property_keys=["collection.ttl.seconds"])
    assert "collection.ttl.seconds" not in client.describe_collection(coll)["properties"]
    client.drop_collection(coll)


def test_stats_load_release_flush_compact(client: MilvusClient):
    coll = name("stats")
    client.create_collection(coll, dimension=2)
    client.insert(coll, [{"id": i, "vector": [float(i), 1.0]} for i in range(25)])
    assert client.get_collection_stats(coll) == {"row_count": 25}
    client.release_collection(coll)
    # Osprey keeps collections searchable; load and refresh report done at once.
    client.load_collection(coll)
    client.refresh_load(coll)
    assert client.get_load_state(coll)["state"].name == "Loaded"
    client.flush(coll)
    job = client.compact(coll)
    assert job != 0
    assert client.get_compaction_state(job) == "Completed"
    assert client.get_collection_stats(coll) == {"row_count": 25}
    client.delete(coll, ids=[0, 1, 2])
    assert client.get_collection_stats(coll) == {"row_count": 22}
    client.drop_collection(coll)


def test_index_lifecycle_with_schema_and_index_params(client: MilvusClient):
    coll = name("idx")
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("price", DataType.DOUBLE)
    schema.add_field("brand", DataType.VARCHAR, max_length=32)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=8)
    index_params = client.prepare_index_params()
    index_params.add_index("vec", index_type="HNSW", metric_type="IP", params={"M": 8, "efConstruction": 64})
    index_params.add_index("price", index_type="STL_SORT")
    index_params.add_index("brand", index_type="BITMAP", index_name="brand_idx")
    client.create_collection(coll, schema=schema, index_params=index_params)
    assert sorted(client.list_indexes(coll)) == ["brand_idx", "price", "vec"]
    vec = client.describe_index(coll, "vec")
    assert vec["index_type"] == "HNSW" and vec["metric_type"] == "IP"
    assert vec["params"] == {"M": 8, "efConstruction": 64}
    assert vec["M"] == "8"
    assert client.describe_index(coll, "brand_idx")["index_type"] == "BITMAP"
    client.insert(coll, [{"id": i, "price": i * 1.5, "brand": f"b{i % 2}", "vec": [float(i % 5)] * 8} for i in range(50)])
    client.release_collection(coll)
    client.drop_index(coll, "brand_idx")
    assert sorted(client.list_indexes(coll)) == ["price", "vec"]
    hits = client.search(coll, data=[[1.0] * 8], limit=5, filter="price > 30 and brand == 'b1'", output_fields=["price"])
    assert len(hits[0]) == 5
    assert all(h["entity"]["price"] > 30 for h in hits[0])
    client.drop_collection(coll)


def test_truncate_keeps_the_collection(client: MilvusClient):
    coll = name("trunc")
    client.create_collection(coll, dimension=2, id_type="string", max_length=8)
    client.insert(coll, [{"id": f"k{i}", "vector": [float(i), 1.0]} for i in range(7)])
    client.truncate_collection(coll)
    assert client.get_collection_stats(coll) == {"row_count": 0}
    assert client.list_indexes(coll) == ["vector"]
    client.insert(coll, [{"id": "again", "vector": [1.0, 1.0]}])
    assert [r["id"] for r in client.query(coll, filter="", limit=5)] == ["again"]
    client.drop_collection(coll)


def test_persistent_segments_follow_flush_and_truncate(client: MilvusClient):
    coll = name("segs")
    client.create_collection(coll, dimension=2)
    client.create_partition(coll, "p")
    client.insert(coll, [{"id": i, "vector": [float(i), 1.0]} for i in range(30)])
    client.insert(coll, [{"id": 100 + i, "vector": [float(i), 2.0]} for i in range(12)], partition_name="p")
    # Growing segments are not persistent yet; asked for by state they are listed.
    assert client.list_persistent_segments(coll) == []
    growing = client.list_persistent_segments(coll, states=[SegmentState.Growing])
    assert sorted(s.num_rows for s in growing) == [12, 30]
    client.flush(coll)
    segs = client.list_persistent_segments(coll)
    assert sorted(s.num_rows for s in segs) == [12, 30]
    assert all(s.state == SegmentState.Flushed and s.collection_id == segs[0].collection_id for s in segs)
    assert len({s.partition_id for s in segs}) == 2
    assert len({s.segment_id for s in segs}) == 2
    client.truncate_collection(coll)
    assert client.list_persistent_segments(coll) == []
    assert client.get_collection_stats(coll) == {"row_count": 0}
    assert client.list_partitions(coll) == ["_default", "p"]
    client.drop_collection(coll)


def test_alter_index_properties(client: MilvusClient):
    coll = name("altidx")
    client.create_collection(coll, dimension=2)
    # Saved index files are always memory-mapped: asking for it succeeds, turning it off does not.
    client.alter_index_properties(coll, "vector", properties={"mmap.enabled": True})
    client.drop_index_properties(coll, "vector", property_keys=["mmap.enabled"])
    with pytest.raises(MilvusException, match="mmap.enabled"):
        client.alter_index_properties(coll, "vector", properties={"mmap.enabled": False})
    with pytest.raises(MilvusException, match="not supported"):
        client.alter_index_properties(coll, "vector", properties={"index.cache": "x"})
    with pytest.raises(MilvusException, match="index not found"):
        client.alter_index_properties(coll, "nope", properties={"mmap.enabled": True})
    client.drop_collection(coll)
