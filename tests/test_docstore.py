"""Contract of the document store: the embedded one always, a real MongoDB when MONGODB_URI is set."""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid

import pytest
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, InvalidOperation, PyMongoError

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


# --- query semantics (pymongo's; the embedded store answers them in SQL) ---------------------

def _ids(docs) -> list:
    return [d["_id"] for d in docs]


def test_equality_on_an_array_field_matches_any_element(coll):
    coll.insert_one({"_id": "a", "tags": ["x", "y"], "n": [1, 5]})
    coll.insert_one({"_id": "b", "tags": "x", "n": 3})
    coll.insert_one({"_id": "c", "tags": {"k": "x"}, "n": "3"})
    coll.insert_one({"_id": "d", "tags": [["x"]], "n": []})
    assert sorted(_ids(coll.find({"tags": "x"}))) == ["a", "b"]
    assert _ids(coll.find({"tags": {"$in": ["y", "z"]}})) == ["a"]
    assert sorted(_ids(coll.find({"tags": {"$ne": "x"}}))) == ["c", "d"]
    assert _ids(coll.find({"n": {"$gt": 4}})) == ["a"]
    assert sorted(_ids(coll.find({"n": {"$gte": 2, "$lte": 4}}))) == ["a", "b"]  # each bound by any element
    assert coll.count_documents({"tags": "x", "n": {"$lt": 2}}) == 1


def test_none_matches_missing_and_null(coll):
    for i, v in enumerate([None, "MISSING", 0, [None, 1], [1], "", False]):
        coll.insert_one({"_id": i} if v == "MISSING" else {"_id": i, "v": v})
    assert sorted(_ids(coll.find({"v": None}))) == [0, 1, 3]
    assert sorted(_ids(coll.find({"v": {"$ne": None}}))) == [2, 4, 5, 6]
    assert _ids(coll.find({"v": {"$exists": False}})) == [1]
    assert sorted(_ids(coll.find({"v": {"$exists": True}}))) == [0, 2, 3, 4, 5, 6]
    assert sorted(_ids(coll.find({"v": {"$in": [None, 0]}}))) == [0, 1, 2, 3]
    assert coll.count_documents({"v": None}) == 3


def test_booleans_numbers_and_strings_compare_only_with_their_kind(coll):
    for i, v in enumerate([True, 1, 1.0, "1", False, 0, "b"]):
        coll.insert_one({"_id": i, "v": v})
    assert sorted(_ids(coll.find({"v": 1}))) == [1, 2]
    assert _ids(coll.find({"v": True})) == [0]
    assert sorted(_ids(coll.find({"v": {"$gte": 0}}))) == [1, 2, 5]
    assert _ids(coll.find({"v": {"$lt": True}})) == [4]
    assert _ids(coll.find({"v": "1"})) == [3]
    assert sorted(_ids(coll.find({"v": {"$gt": ""}}))) == [3, 6]
    assert coll.count_documents({"v": {"$in": [False, "b"]}}) == 2


def test_sort_puts_missing_and_null_first(coll):
    for _id, k in [("a", 2), ("b", "MISSING"), ("c", 1), ("d", None), ("e", 3)]:
        coll.insert_one({"_id": _id} if k == "MISSING" else {"_id": _id, "k": k})
    up = _ids(coll.find({}, sort=[("k", 1)]))
    assert set(up[:2]) == {"b", "d"} and up[2:] == ["c", "a", "e"]
    down = _ids(coll.find({}, sort=[("k", -1)]))
    assert down[:3] == ["e", "a", "c"] and set(down[3:]) == {"b", "d"}
    assert _ids(coll.find({}, sort=[("k", 1)], skip=2, limit=2)) == ["c", "a"]


def test_find_is_a_lazy_cursor_and_chaining_equals_the_keyword_form(coll):
    for i in range(10):
        coll.insert_one({"_id": f"d{i}", "i": i, "grp": "g" if i % 3 else "h"})
    cursor = coll.find({"grp": "g"})
    coll.insert_one({"_id": "late", "i": 100, "grp": "g"})  # the query runs at the first next()
    chained = cursor.sort("i", -1).skip(1).limit(3)
    assert [d["i"] for d in chained] == [8, 7, 5]
    with pytest.raises(InvalidOperation):
        chained.limit(1)
    for sort in ([("i", -1)], [("grp", 1), ("i", -1)]):
        assert list(coll.find({"i": {"$gte": 1}}, sort=sort, skip=2, limit=4)) == \
            list(coll.find({"i": {"$gte": 1}}).sort(sort).skip(2).limit(4))
    assert list(coll.find({"grp": "h"}, {"i": 1}).sort("i").limit(2)) == [{"_id": "d0", "i": 0}, {"_id": "d3", "i": 3}]
    assert coll.find({}, sort=[("i", 1)])[2]["i"] == 2
    assert coll.find_one({"grp": "g"}, sort=[("i", -1)])["_id"] == "late"
    assert len(list(coll.find().limit(4))) == 4 and len(list(coll.find().skip(9))) == 2


# --- embedded only: SQL and the Python fallback agree ----------------------------------------

@pytest.fixture
def embedded(tmp_path):
    return EmbeddedClient(str(tmp_path))["db"]["things"]


TRICKY_DOCS = [
    {"_id": "n1", "v": 1}, {"_id": "n1f", "v": 1.0}, {"_id": "n2", "v": 2.5}, {"_id": "t", "v": True},
    {"_id": "f", "v": False}, {"_id": "s1", "v": "1"}, {"_id": "sa", "v": "a"}, {"_id": "null", "v": None},
    {"_id": "miss"}, {"_id": "arr", "v": [1, "a", None]}, {"_id": "arr2", "v": [3, True]},
    {"_id": "nest", "v": [[1], {"k": 1}]}, {"_id": "obj", "v": {"k": 1}, "w": {"x": "a"}},
    {"_id": "empty", "v": []}, {"_id": "dot", "w": {"x": "b", "y": [1, 2]}}, {"_id": "wl", "w": [{"x": "a"}]},
    {"_id": "objstr", "v": '{"k":1}'}, {"_id": "arrstr", "v": "[1]"}, {"_id": 7.0, "v": "é"}, {"_id": 8, "v": -3},
]
TRICKY_FILTERS = [
    {}, {"v": 1}, {"v": 1.0}, {"v": True}, {"v": False}, {"v": "a"}, {"v": "1"}, {"v": None},
    {"v": {"$eq": None}}, {"v": {"$ne": None}}, {"v": {"$ne": 1}}, {"v": {"$in": [1, "a"]}},
    {"v": {"$in": [None, True]}}, {"v": {"$in": []}}, {"v": {"$gt": 1}}, {"v": {"$gte": 1, "$lt": 3}},
    {"v": {"$lt": "b"}}, {"v": {"$gte": False}}, {"v": {"$exists": True}}, {"v": {"$exists": False}},
    {"w.x": "a"}, {"w.x": None}, {"w.y": 2}, {"$or": [{"v": 1}, {"w.x": "b"}]},
    {"$and": [{"v": {"$ne": "a"}}, {"v": {"$exists": True}}]}, {"_id": {"$in": ["n1", "t", "zz", 7]}},
    {"_id": {"$ne": "n1"}}, {"_id": {"$gte": "s"}}, {"_id": 8.0}, {"v": '{"k":1}'}, {"v": "[1]"},
    {"v": {"$gt": "z"}}, {"$or": [{"v": {"$lt": 0}}, {"v": {"$in": ["é", None]}}]},
]
TRICKY_SORTS = [None, [("v", 1)], [("v", -1)], [("w.x", 1), ("v", -1)], [("_id", -1)]]
ALWAYS = {"no_sql.0": {"$exists": False}}  # true for every document, and has no SQL form


@pytest.mark.parametrize("flt", TRICKY_FILTERS, ids=repr)
def test_sql_and_python_fallback_return_the_same(embedded, flt):
    from records.docstore_query import compile_filter

    for doc in TRICKY_DOCS:
        embedded.insert_one(doc)
    slow = {"$and": [flt, ALWAYS]} if flt else ALWAYS
    assert compile_filter(flt).exact and not compile_filter(slow).exact
    for sort in TRICKY_SORTS:
        for skip, limit in [(0, 0), (1, 3), (5, 0), (0, 1)]:
            got = embedded.find(flt, sort=sort, skip=skip, limit=limit)
            assert list(got) == list(embedded.find(slow, sort=sort, skip=skip, limit=limit)), (sort, skip, limit)
    assert embedded.count_documents(flt) == embedded.count_documents(slow)


def test_count_documents_decodes_no_document(embedded, monkeypatch):
    import records.docstore as docstore

    for i in range(20):
        embedded.insert_one({"_id": i, "grp": "g" if i % 2 else "h", "i": i, "tags": ["a", str(i)]})
    decoded = []
    real = docstore.loads
    monkeypatch.setattr(docstore, "loads", lambda text: decoded.append(1) or real(text))
    assert embedded.count_documents({"grp": "g", "i": {"$gte": 5}, "tags": "a"}) == 8
    assert embedded.count_documents({"$or": [{"i": {"$in": [1, 2]}}, {"tags": "17"}]}) == 3
    assert decoded == []
    assert embedded.count_documents({"grp": "g", **ALWAYS}) == 10 and decoded  # the fallback decodes
