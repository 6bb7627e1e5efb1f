"""Contract of the document store: the embedded one always, a real MongoDB when MONGODB_URI is set."""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid

import pytest
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from records.backend import open_docstore
from records.docstore import EmbeddedClient

BACKENDS = ["embedded"] + (["mongodb"] if os.environ.get("MONGODB_URI") else [])


@pytest.fixture(params=BACKENDS)
def coll(request, tmp_path):
    if request.param == "embedded":
        db = open_docstore("", str(tmp_path))
    else:
        db = open_docstore(os.environ["MONGODB_URI"], "")
    c = db[f"t_{uuid.uuid4().hex[:8]}"]
    yield c
    c.drop()


def test_insert_find_and_duplicate_keys(coll):
    coll.insert_one({"_id": "a", "n": 1, "tags": ["x"], "sub": {"k": "v"}})
    assert coll.find_one({"_id": "a"}) == {"_id": "a", "n": 1, "tags": ["x"], "sub": {"k": "v"}}
    assert coll.find_one({"tags": "x"})["_id"] == "a"          # arrays match their elements
    assert coll.find_one({"sub.k": "v"})["_id"] == "a"         # dotted paths
    assert coll.find_one({"_id": "missing"}) is None
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "a"})
    assert coll.insert_one({"n": 2}).inserted_id is not None


def test_update_operators(coll):
    coll.insert_one({"_id": "a", "n": 1, "tags": ["x"]})
    res = coll.update_one({"_id": "a"}, {"$inc": {"n": 2}, "$addToSet": {"tags": {"$each": ["x", "y"]}},
                                         "$set": {"s.deep": True}, "$max": {"hi": 5}})
    assert (res.matched_count, res.modified_count) == (1, 1)
    doc = coll.find_one({"_id": "a"})
    assert doc["n"] == 3 and doc["tags"] == ["x", "y"] and doc["s"] == {"deep": True} and doc["hi"] == 5
    coll.update_one({"_id": "a"}, {"$push": {"log": {"$each": [1, 2, 3], "$slice": -2}}, "$unset": {"s": ""}})
    doc = coll.find_one({"_id": "a"})
    assert doc["log"] == [2, 3] and "s" not in doc
    assert coll.update_one({"_id": "zz"}, {"$set": {"n": 1}}).matched_count == 0
    up = coll.update_one({"_id": "b"}, {"$set": {"n": 9}, "$setOnInsert": {"created": 1}}, upsert=True)
    assert up.upserted_id == "b" and coll.find_one({"_id": "b"}) == {"_id": "b", "n": 9, "created": 1}


def test_conditional_update_and_find_one_and_update(coll):
    coll.insert_one({"_id": "c", "seq": 3})
    assert coll.update_one({"_id": "c", "seq": {"$lte": 2}}, {"$set": {"seq": 2}}).matched_count == 0
    assert coll.update_one({"_id": "c", "seq": {"$lte": 4}}, {"$set": {"seq": 4}}).matched_count == 1
    after = coll.find_one_and_update({"_id": "c"}, {"$inc": {"v": 1}}, return_document=ReturnDocument.AFTER)
    assert after["v"] == 1
    before = coll.find_one_and_update({"_id": "c"}, {"$inc": {"v": 1}})
    assert before["v"] == 1
    assert coll.find_one_and_update({"_id": "nope"}, {"$inc": {"v": 1}}) is None


def test_queries_sort_limit_projection_count_delete(coll):
    for i in range(10):
        coll.insert_one({"_id": f"d{i}", "i": i, "even": i % 2 == 0, "grp": "g"})
    docs = list(coll.find({"i": {"$gte": 3, "$lt": 7}}, sort=[("i", -1)]))
    assert [d["i"] for d in docs] == [6, 5, 4, 3]
    assert [d["i"] for d in coll.find({"grp": "g"}, sort=[("i", 1)], skip=2, limit=3)] == [2, 3, 4]
    assert coll.find_one({"_id": "d1"}, {"i": 1}) == {"_id": "d1", "i": 1}
    assert coll.count_documents({"even": True}) == 5
    assert coll.count_documents({"i": {"$in": [1, 2, 99]}}) == 2
    assert coll.count_documents({"$or": [{"i": 1}, {"i": 2}]}) == 2
    assert coll.count_documents({"i": {"$ne": 1}, "missing": {"$exists": False}}) == 9
    assert coll.delete_one({"_id": "d0"}).deleted_count == 1
    assert coll.delete_many({"even": True}).deleted_count == 4
    assert coll.count_documents({}) == 5


def test_indexed_fields_filter_the_same(coll):
    coll.create_index("k")
    for i in range(6):
        coll.insert_one({"_id": i, "k": f"v{i % 3}", "n": i})
    assert sorted(d["_id"] for d in coll.find({"k": "v1"})) == [1, 4]
    assert sorted(d["_id"] for d in coll.find({"k": {"$gte": "v1"}})) == [1, 2, 4, 5]


def _inc(path: str, n: int) -> None:
    c = EmbeddedClient(path)["db"]["counter"]
    for _ in range(n):
        c.update_one({"_id": "x"}, {"$inc": {"n": 1}, "$push": {"who": os.getpid()}}, upsert=True)


def test_embedded_store_loses_no_update_across_processes(tmp_path):
    procs = [mp.get_context("fork").Process(target=_inc, args=(str(tmp_path), 150)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    doc = EmbeddedClient(str(tmp_path))["db"]["counter"].find_one({"_id": "x"})
    assert doc["n"] == 600 and len(doc["who"]) == 600


def test_embedded_store_failure_is_a_pymongo_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    c = EmbeddedClient(str(blocker / "sub"))["db"]["x"]
    with pytest.raises(PyMongoError):
        c.find_one({"_id": 1})


def test_unreachable_mongodb_fails_fast_with_a_pymongo_error():
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = open_docstore(f"mongodb://127.0.0.1:{port}/test", "")
    started = time.monotonic()
    with pytest.raises(PyMongoError):
        db["calls"].find_one({"_id": "x"})
    assert time.monotonic() - started < 3.0
