"""Data written through pymilvus survives a restart of `osprey serve` on the same data
directory: catalog, rows (flushed or only in the write-ahead log), deletes and indexes."""
from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusClient

from conftest import start_server, stop_server


def test_restart_keeps_everything(tmp_path):
    server = start_server(tmp_path)
    try:
        client = MilvusClient(uri=server.uri, timeout=10)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("name", DataType.VARCHAR, max_length=16, nullable=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=3)
        index_params = client.prepare_index_params()
        index_params.add_index("vec", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
        client.create_collection("kept", schema=schema, index_params=index_params, properties={"owner": "me"})
        client.create_partition("kept", "later")
        client.insert("kept", [{"id": i, "name": f"n{i}", "vec": [float(i), 0, 0], "extra": i} for i in range(50)])
        client.flush("kept")
        # Written after the flush: only the write-ahead log has these.
        client.insert("kept", [{"id": 100 + i, "name": None, "vec": [0, float(i), 0]} for i in range(5)],
                      partition_name="later")
        client.delete("kept", ids=[0, 1, 2])
        client.create_alias("kept", "kept_alias")
        client.create_database("other")
        client.close()
    finally:
        assert stop_server(server) == 0, server.log()

    server = start_server(tmp_path)
    try:
        client = MilvusClient(uri=server.uri, timeout=10)
        assert "other" in client.list_databases()
        d = client.describe_collection("kept")
        assert d["properties"] == {"owner": "me"} and d["aliases"] == ["kept_alias"]
        assert client.list_partitions("kept") == ["_default", "later"]
        assert client.describe_index("kept", "vec")["index_type"] == "HNSW"
        assert client.get_collection_stats("kept") == {"row_count": 52}
        assert client.get("kept", ids=[0, 1, 2]) == []
        row = client.get("kept", ids=[7], output_fields=["*"])[0]
        assert row["name"] == "n7" and row["extra"] == 7 and row["vec"] == pytest.approx([7.0, 0, 0])
        later = client.query("kept", filter="", limit=10, partition_names=["later"], output_fields=["name"])
        assert [(r["id"], r["name"]) for r in later] == [(100 + i, None) for i in range(5)]
        hits = client.search("kept_alias", data=[[10.0, 0, 0]], limit=2)
        assert [h["id"] for h in hits[0]] == [10, 9] or [h["id"] for h in hits[0]] == [10, 11]
        client.close()
    finally:
        assert stop_server(server) == 0, server.log()


def test_compaction_keeps_live_rows(client: MilvusClient):
    coll = "compacted"
    client.create_collection(coll, dimension=2)
    for start in range(0, 300, 100):
        client.insert(coll, [{"id": i, "vector": [float(i), 1.0]} for i in range(start, start + 100)])
        client.flush(coll)
    client.delete(coll, filter="id % 2 == 0")
    job = client.compact(coll)
    assert client.get_compaction_state(job) == "Completed"
    assert client.get_collection_stats(coll) == {"row_count": 150}
    assert [r["id"] for r in client.query(coll, filter="id < 10", output_fields=["id"])] == [1, 3, 5, 7, 9]
    hits = client.search(coll, data=[[41.0, 1.0]], limit=1)
    assert hits[0][0]["id"] == 41
    client.drop_collection(coll)


def test_second_server_on_the_same_directory_is_refused(osprey):
    import subprocess

    from conftest import _osprey_bin

    result = subprocess.run([str(_osprey_bin()), "serve", "--host", "127.0.0.1", "--port", "0",
                             "--data-dir", str(osprey.data_dir)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cannot open the database" in result.stderr and "locked by another" in result.stderr
