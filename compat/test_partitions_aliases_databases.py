"""Partitions, aliases and databases through MilvusClient."""
from __future__ import annotations

import uuid

import pytest
from pymilvus import MilvusClient, MilvusException


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_partitions(client: MilvusClient):
    coll = name("parts")
    client.create_collection(coll, dimension=2)
    assert client.list_partitions(coll) == ["_default"]
    client.create_partition(coll, "p1")
    client.create_partition(coll, "p2")
    assert client.list_partitions(coll) == ["_default", "p1", "p2"]
    assert client.has_partition(coll, "p1") and not client.has_partition(coll, "nope")
    client.insert(coll, [{"id": i, "vector": [float(i), 0.0]} for i in range(5)], partition_name="p1")
    client.insert(coll, [{"id": i, "vector": [float(i), 0.0]} for i in range(5, 8)], partition_name="p2")
    client.insert(coll, [{"id": 100, "vector": [0.0, 0.0]}])
    assert client.get_partition_stats(coll, "p1") == {"row_count": 5}
    assert client.get_partition_stats(coll, "p2") == {"row_count": 3}
    rows = client.query(coll, filter="id >= 0", partition_names=["p2"], output_fields=["id"])
    assert sorted(r["id"] for r in rows) == [5, 6, 7]
    client.load_partitions(coll, ["p1", "p2"])
    assert client.get_load_state(coll, partition_name="p1")["state"].name == "Loaded"
    client.release_partitions(coll, ["p1"])
    with pytest.raises(MilvusException) as err:
        client.create_partition(coll, "p1")
    assert err.value.code == 1100
    client.drop_partition(coll, "p2")
    assert client.list_partitions(coll) == ["_default", "p1"]
    assert client.get_collection_stats(coll)["row_count"] == 6
    with pytest.raises(MilvusException) as err:
        client.insert(coll, [{"id": 9, "vector": [0.0, 0.0]}], partition_name="missing")
    assert err.value.code == 200
    client.drop_collection(coll)


def test_aliases(client: MilvusClient):
    a, b, alias = name("ca"), name("cb"), name("al")
    client.create_collection(a, dimension=2)
    client.create_collection(b, dimension=2)
    client.insert(a, [{"id": 1, "vector": [1.0, 0.0]}])
    client.insert(b, [{"id": 2, "vector": [1.0, 0.0]}])
    client.create_alias(a, alias)
    assert client.describe_alias(alias)["collection_name"] == a
    assert client.list_aliases(a)["aliases"] == [alias]
    assert client.describe_collection(a)["aliases"] == [alias]
    assert client.query(alias, filter="id > 0")[0]["id"] == 1
    client.alter_alias(b, alias)
    assert client.query(alias, filter="id > 0")[0]["id"] == 2
    with pytest.raises(MilvusException) as err:
        client.create_alias(a, alias)
    assert err.value.code == 1602
    with pytest.raises(MilvusException) as err:
        client.create_alias(b, a)
    assert err.value.code == 1601
    client.drop_alias(alias)
    assert client.list_aliases(b)["aliases"] == []
    with pytest.raises(MilvusException) as err:
        client.describe_alias(alias)
    assert err.value.code == 1600
    client.drop_collection(a)
    client.drop_collection(b)


def test_databases(osprey):
    db = name("db")
    client = MilvusClient(uri=osprey.uri, timeout=10)
    client.create_database(db, properties={"database.max.collections": "10"})
    assert "default" in client.list_databases() and db in client.list_databases()
    d = client.describe_database(db)
    assert d["name"] == db and d["database.max.collections"] == "10"
    client.alter_database_properties(db, {"owner": "me"})
    assert client.describe_database(db)["owner"] == "me"

    client.use_database(db)
    client.create_collection("inside", dimension=2)
    client.insert("inside", [{"id": 1, "vector": [0.0, 1.0]}])
    assert client.list_collections() == ["inside"]
    assert client.query("inside", filter="id == 1")[0]["id"] == 1
    client.use_database("default")
    assert "inside" not in client.list_collections()
    assert not client.has_collection("inside")

    # A client opened on the database sends it in the dbname header.
    scoped = MilvusClient(uri=osprey.uri, db_name=db, timeout=10)
    assert scoped.get_collection_stats("inside") == {"row_count": 1}
    with pytest.raises(MilvusException):
        client.drop_database(db)  # it still has a collection
    scoped.drop_collection("inside")
    scoped.close()
    client.drop_database(db)
    assert db not in client.list_databases()
    with pytest.raises(MilvusException) as err:
        client.use_database(db)
    assert err.value.code == 800
    client.close()


def test_rename_into_another_database_and_describe_by_alias(osprey):
    client = MilvusClient(uri=osprey.uri, timeout=10)
    db, coll, alias = name("dbmv"), name("mv"), name("mval")
    client.create_database(db)
    client.create_collection(coll, dimension=2)
    client.insert(coll, [{"id": 1, "vector": [1.0, 0.0]}])
    client.create_alias(coll, alias)
    assert client.describe_collection(alias)["collection_name"] == coll
    client.drop_alias(alias)
    client.rename_collection(coll, "moved", target_db=db)
    assert not client.has_collection(coll)
    client.use_database(db)
    assert client.list_collections() == ["moved"]
    assert client.get("moved", ids=[1])[0]["vector"] == pytest.approx([1.0, 0.0])
    client.drop_collection("moved")
    client.use_database("default")
    client.drop_database(db)
    client.close()
