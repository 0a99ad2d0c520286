"""Search through MilvusClient: batches, filters with templates, output fields (named,
`*`, dynamic keys), metrics, offset, round_decimal, range search, partitions, hybrid
search (RRF and weighted) and the search iterator."""
from __future__ import annotations

import uuid

import pytest
from pymilvus import AnnSearchRequest, DataType, MilvusClient, RRFRanker, WeightedRanker

DIM = 4
N = 200


def vector(i: int) -> list[float]:
    return [1.0, i / N, (i % 7) / 7, 0.0]


@pytest.fixture(scope="module")
def coll(osprey):
    client = MilvusClient(uri=osprey.uri, timeout=10)
    coll = f"search_{uuid.uuid4().hex[:8]}"
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("group", DataType.INT64)
    schema.add_field("label", DataType.VARCHAR, max_length=16)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("other", DataType.FLOAT_VECTOR, dim=2)
    index_params = client.prepare_index_params()
    index_params.add_index("dense", index_type="HNSW", metric_type="L2", params={"M": 16, "efConstruction": 100})
    index_params.add_index("other", index_type="FLAT", metric_type="IP")
    client.create_collection(coll, schema=schema, index_params=index_params)
    rows = [{"id": i, "group": i % 10, "label": f"l{i % 3}", "dense": vector(i), "other": [float(i % 5), 1.0],
             "note": f"n{i}"} for i in range(N)]
    client.insert(coll, rows)
    client.flush(coll)
    yield coll
    client.drop_collection(coll)
    client.close()


def test_batch_of_queries(client, coll):
    hits = client.search(coll, data=[vector(10), vector(150)], anns_field="dense", limit=4)
    assert len(hits) == 2
    assert hits[0][0]["id"] == 10 and hits[1][0]["id"] == 150
    assert hits[0][0]["distance"] == pytest.approx(0.0, abs=1e-6)
    assert all(len(h) == 4 for h in hits)
    distances = [h["distance"] for h in hits[0]]
    assert distances == sorted(distances)


def test_filter_with_templates_and_output_fields(client, coll):
    hits = client.search(coll, data=[vector(0)], anns_field="dense", limit=5,
                         filter="group in {groups} and label != {skip}", filter_params={"groups": [3, 4], "skip": "l0"},
                         output_fields=["group", "label", "note"])
    assert len(hits[0]) == 5
    for h in hits[0]:
        e = h["entity"]
        assert e["group"] in (3, 4) and e["label"] != "l0"
        assert e["note"] == f"n{h['id']}"
    star = client.search(coll, data=[vector(7)], anns_field="dense", limit=1, output_fields=["*"])
    e = star[0][0]["entity"]
    assert e["group"] == 7 and e["label"] == "l1" and e["note"] == "n7"
    assert e["dense"] == pytest.approx(vector(7)) and e["other"] == pytest.approx([2.0, 1.0])
    bare = client.search(coll, data=[vector(7)], anns_field="dense", limit=1)
    assert bare[0][0]["entity"] == {}


def test_metric_ip_offset_and_round_decimal(client, coll):
    hits = client.search(coll, data=[[1.0, 0.5]], anns_field="other", limit=3)
    assert [h["distance"] for h in hits[0]] == pytest.approx([4.5] * 3)
    first = client.search(coll, data=[vector(50)], anns_field="dense", limit=6)
    page = client.search(coll, data=[vector(50)], anns_field="dense", limit=3, offset=3)
    assert [h["id"] for h in page[0]] == [h["id"] for h in first[0]][3:]
    rounded = client.search(coll, data=[[0.3, 0.3]], anns_field="other", limit=2, round_decimal=1)
    assert rounded[0][0]["distance"] == pytest.approx(1.5)
    ef = client.search(coll, data=[vector(9)], anns_field="dense", limit=3, search_params={"params": {"ef": 64}})
    assert ef[0][0]["id"] == 9


def test_range_search(client, coll):
    query = vector(100)
    radius, range_filter = 0.05, 0.001
    hits = client.search(coll, data=[query], anns_field="dense", limit=50,
                         search_params={"metric_type": "L2", "params": {"radius": radius, "range_filter": range_filter}})
    assert hits[0], "range search found nothing"
    for h in hits[0]:
        assert range_filter <= h["distance"] < radius
    assert 100 not in [h["id"] for h in hits[0]]  # distance 0 is below range_filter


def test_partitions_in_search(client, coll):
    part = f"p_{uuid.uuid4().hex[:6]}"
    client.create_partition(coll, part)
    client.insert(coll, [{"id": 10_000, "group": 0, "label": "lp", "dense": vector(5), "other": [0.0, 0.0]}],
                  partition_name=part)
    hits = client.search(coll, data=[vector(5)], anns_field="dense", limit=3, partition_names=[part])
    assert [h["id"] for h in hits[0]] == [10_000]
    client.delete(coll, ids=[10_000])
    client.release_partitions(coll, [part])
    client.drop_partition(coll, part)


def test_hybrid_search_rrf_and_weighted(client, coll):
    dense = AnnSearchRequest(data=[vector(20)], anns_field="dense", param={"metric_type": "L2"}, limit=5)
    other = AnnSearchRequest(data=[[0.0, 1.0]], anns_field="other", param={"metric_type": "IP"}, limit=5,
                             expr="group == 1")
    hits = client.hybrid_search(coll, [dense, other], RRFRanker(60), limit=4, output_fields=["group"])
    assert len(hits[0]) == 4
    # The best of each list ties at 1/61 (ties go by primary key).
    top_other = client.search(coll, data=[[0.0, 1.0]], anns_field="other", limit=1, filter="group == 1")[0][0]["id"]
    assert [h["id"] for h in hits[0][:2]] == sorted([20, top_other])
    assert [h["distance"] for h in hits[0][:2]] == pytest.approx([1 / 61] * 2, rel=1e-5)
    scores = [h["distance"] for h in hits[0]]
    assert scores == sorted(scores, reverse=True)
    assert all("group" in h["entity"] for h in hits[0])

    # An id in both lists at rank 1 gets 2/61.
    same = AnnSearchRequest(data=[vector(20)], anns_field="dense", param={}, limit=3)
    both = client.hybrid_search(coll, [same, same], RRFRanker(60), limit=2)
    assert both[0][0]["id"] == 20 and both[0][0]["distance"] == pytest.approx(2 / 61, rel=1e-5)

    weighted = client.hybrid_search(coll, [dense, other], WeightedRanker(0.8, 0.2), limit=3)
    assert weighted[0][0]["id"] == 20
    assert weighted[0][0]["distance"] == pytest.approx(0.8 * 1.0, rel=1e-4)  # L2 0 → 1 - 2·atan(0)/π = 1
    normalised = client.hybrid_search(coll, [dense, other], WeightedRanker(0.5, 0.5, norm_score=True), limit=3)
    assert len(normalised[0]) == 3


def test_search_iterator(client, coll):
    seen = []
    it = client.search_iterator(coll, data=[vector(0)], anns_field="dense", batch_size=30, limit=90,
                                search_params={"metric_type": "L2"}, output_fields=["group"])
    while True:
        page = it.next()
        if not page:
            it.close()
            break
        seen.extend(h["id"] for h in page)
    assert len(seen) == 90
    assert len(set(seen)) == 90
    assert seen[0] == 0


def test_group_by(client, coll):
    hits = client.search(coll, data=[vector(0)], anns_field="dense", limit=3, group_by_field="label",
                         output_fields=["label"])
    labels = [h["entity"]["label"] for h in hits[0]]
    assert sorted(labels) == ["l0", "l1", "l2"]
    grouped = client.search(coll, data=[vector(0)], anns_field="dense", limit=2, group_by_field="group", group_size=3,
                            strict_group_size=True, output_fields=["group"])
    groups = [h["entity"]["group"] for h in grouped[0]]
    assert len(groups) == 6
    assert len(set(groups)) == 2 and all(groups.count(g) == 3 for g in set(groups))


def test_search_by_primary_key(client, coll):
    hits = client.search(coll, ids=[42], anns_field="dense", limit=2)
    assert hits[0][0]["id"] == 42 and hits[0][0]["distance"] == pytest.approx(0.0, abs=1e-6)


def test_consistency_levels_read_own_writes(client, coll):
    for level in ("Strong", "Session", "Bounded", "Eventually"):
        new_id = 20_000 + len(level)
        client.insert(coll, [{"id": new_id, "group": 99, "label": "lx", "dense": [9.0, 9.0, 9.0, 9.0], "other": [0.0, 0.0]}])
        rows = client.query(coll, filter=f"id == {new_id}", consistency_level=level)
        assert [r["id"] for r in rows] == [new_id]
        hits = client.search(coll, data=[[9.0, 9.0, 9.0, 9.0]], anns_field="dense", limit=1, consistency_level=level)
        assert hits[0][0]["id"] == new_id
        client.delete(coll, ids=[new_id])


def test_hybrid_search_with_rerank_functions(client, coll):
    from pymilvus import Function, FunctionType

    first = AnnSearchRequest(data=[vector(30)], anns_field="dense", param={}, limit=3)
    second = AnnSearchRequest(data=[vector(60)], anns_field="dense", param={}, limit=3)
    rrf = Function(name="rrf", input_field_names=[], function_type=FunctionType.RERANK,
                   params={"reranker": "rrf", "k": 100})
    hits = client.hybrid_search(coll, [first, second], rrf, limit=2)
    assert [h["id"] for h in hits[0]] == [30, 60]
    assert [h["distance"] for h in hits[0]] == pytest.approx([1 / 101] * 2, rel=1e-5)
    weighted = Function(name="w", input_field_names=[], function_type=FunctionType.RERANK,
                        params={"reranker": "weighted", "weights": [0.1, 0.9], "norm_score": True})
    hits = client.hybrid_search(coll, [first, second], weighted, limit=1)
    assert hits[0][0]["id"] == 60 and hits[0][0]["distance"] == pytest.approx(0.9, rel=1e-4)
