"""Query through MilvusClient: filters, output fields, limit and offset, get, count(*),
and the query iterator (pages ordered by primary key)."""
from __future__ import annotations

import uuid

import pytest
from pymilvus import MilvusClient

N = 120


@pytest.fixture(scope="module")
def coll(osprey):
    client = MilvusClient(uri=osprey.uri, timeout=10)
    coll = f"query_{uuid.uuid4().hex[:8]}"
    client.create_collection(coll, dimension=2)
    # Insert in a shuffled order: results still come back ordered by primary key.
    ids = [(i * 37) % N for i in range(N)]
    client.insert(coll, [{"id": i, "vector": [float(i), 1.0], "n": i, "odd": i % 2 == 1, "meta": {"k": i % 4}} for i in ids])
    yield coll
    client.drop_collection(coll)
    client.close()


def test_filter_limit_offset(client, coll):
    rows = client.query(coll, filter="n >= 10 and odd == true", output_fields=["n"], limit=5, offset=2)
    assert [r["id"] for r in rows] == [15, 17, 19, 21, 23]
    assert all(set(r) == {"id", "n"} for r in rows)
    everything = client.query(coll, filter="", limit=3)
    assert [r["id"] for r in everything] == [0, 1, 2]


def test_json_and_template_filters(client, coll):
    rows = client.query(coll, filter='meta["k"] == {k} and n < {top}', filter_params={"k": 2, "top": 20},
                        output_fields=["meta"])
    assert [r["id"] for r in rows] == [2, 6, 10, 14, 18]
    assert rows[0]["meta"] == {"k": 2}


def test_get_and_count(client, coll):
    got = client.get(coll, ids=[5, 3, 1000])
    assert sorted(r["id"] for r in got) == [3, 5]
    assert {r["id"]: r["n"] for r in got} == {3: 3, 5: 5}
    assert got[0]["vector"] == pytest.approx([float(got[0]["id"]), 1.0])
    assert client.query(coll, filter="", output_fields=["count(*)"])[0]["count(*)"] == N
    assert client.query(coll, filter="n < 30", output_fields=["count(*)"])[0]["count(*)"] == 30


def test_query_iterator(client, coll):
    it = client.query_iterator(coll, batch_size=25, filter="n >= 7", output_fields=["n"])
    seen = []
    while True:
        page = it.next()
        if not page:
            it.close()
            break
        assert len(page) <= 25
        seen.extend(r["id"] for r in page)
    assert seen == list(range(7, N))


def test_query_iterator_with_limit(client, coll):
    it = client.query_iterator(coll, batch_size=10, limit=35, filter="")
    seen = []
    while True:
        page = it.next()
        if not page:
            it.close()
            break
        seen.extend(r["id"] for r in page)
    assert seen == list(range(35))


def test_query_iterator_reads_one_snapshot(client):
    coll = f"snap_{uuid.uuid4().hex[:8]}"
    client.create_collection(coll, dimension=2)
    client.insert(coll, [{"id": i, "vector": [float(i), 1.0], "n": i} for i in range(100)])
    it = client.query_iterator(coll, batch_size=20, filter="", output_fields=["n"])
    seen = [r["id"] for r in it.next()]
    # Writes after the first page: new keys past the cursor, a deleted key and an updated
    # one ahead of it. The iterator keeps reading the snapshot of its first page.
    client.insert(coll, [{"id": 1000 + i, "vector": [0.0, 0.0], "n": -1} for i in range(5)])
    client.delete(coll, ids=[50])
    client.upsert(coll, [{"id": 60, "vector": [0.0, 0.0], "n": -60}])
    values = {}
    while True:
        page = it.next()
        if not page:
            it.close()
            break
        seen.extend(r["id"] for r in page)
        values.update({r["id"]: r["n"] for r in page})
    assert seen == list(range(100))
    assert values[60] == 60
    # A new read sees the writes.
    assert client.query(coll, filter="", output_fields=["count(*)"])[0]["count(*)"] == 104
    client.drop_collection(coll)
