"""Contract of the document store: the embedded one always, a real MongoDB when MONGODB_URI is set."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import uuid
from datetime import datetime

import pytest
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, InvalidOperation, PyMongoError

from records.backend import open_docstore
from records.docstore import EmbeddedClient, EmbeddedCollection, StoreUnavailable

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


def test_stored_and_returned_documents_share_nothing_with_the_callers_update(coll):
    value = {"session": {"seq": 1, "tags": ["a"]}}
    coll.update_one({"_id": "s"}, {"$set": value, "$setOnInsert": {"made": value}}, upsert=True)
    coll.update_one({"_id": "s"}, {"$set": value})
    after = coll.find_one_and_update({"_id": "s"}, {"$set": {"copy": value}}, return_document=ReturnDocument.AFTER)
    value["session"]["tags"].append("b")  # the caller goes on changing its own objects
    assert after["copy"] == {"session": {"seq": 1, "tags": ["a"]}}
    assert coll.find_one({"_id": "s"})["session"]["tags"] == ["a"] and coll.find_one({"_id": "s"})["made"]["session"] == {
        "seq": 1, "tags": ["a"]}


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


def test_embedded_store_groups_writes_in_one_transaction(tmp_path):
    db = EmbeddedClient(str(tmp_path))["db"]
    with db.atomic():
        db["turns"].insert_one({"_id": "t1"})
        with pytest.raises(DuplicateKeyError):  # a failed statement undoes only itself
            db["turns"].insert_one({"_id": "t1"})
        db["calls"].update_one({"_id": "c1"}, {"$set": {"seq": 1}}, upsert=True)
    assert db["turns"].count_documents({}) == 1 and db["calls"].find_one({"_id": "c1"}) == {"_id": "c1", "seq": 1}
    with pytest.raises(RuntimeError):
        with db.atomic():
            db["turns"].insert_one({"_id": "t2"})
            db["calls"].update_one({"_id": "c1"}, {"$set": {"seq": 2}})
            raise RuntimeError("the process gave up half way")
    assert db["turns"].find_one({"_id": "t2"}) is None and db["calls"].find_one({"_id": "c1"})["seq"] == 1
    # Another process sees the group only once it is committed.
    other = EmbeddedClient(str(tmp_path))["db"]
    with db.atomic():
        db["turns"].insert_one({"_id": "t3"})
        assert other["turns"].find_one({"_id": "t3"}) is None
    assert other["turns"].find_one({"_id": "t3"}) == {"_id": "t3"}


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


def _reopen(coll):
    """The same collection through a brand-new client, as another process would open it."""
    if isinstance(coll, EmbeddedCollection):
        return open_docstore("", coll.database.client.directory)[coll.name]
    return open_docstore(os.environ["MONGODB_URI"], "")[coll.name]


def test_indexes_persist_and_a_new_client_sees_them(coll):
    assert coll.create_index([("company_id", 1), ("started_at", -1)]) == "company_id_1_started_at_-1"
    assert coll.create_index("code", unique=True) == "code_1"
    assert coll.create_index([("company_id", 1), ("started_at", -1)]) == "company_id_1_started_at_-1"
    info = _reopen(coll).index_information()
    assert set(info) == {"_id_", "company_id_1_started_at_-1", "code_1"}
    assert list(info["company_id_1_started_at_-1"]["key"]) == [("company_id", 1), ("started_at", -1)]
    assert info["code_1"].get("unique") is True and not info["company_id_1_started_at_-1"].get("unique")


def test_unique_indexes_refuse_a_taken_key(coll):
    coll.create_index("code", unique=True)
    coll.create_index([("company_id", 1), ("version", 1)], unique=True)
    coll.insert_one({"_id": 1, "code": "a", "company_id": "c", "version": 1})
    coll.insert_one({"_id": 2, "code": "b", "company_id": "c", "version": 2})
    for write in (lambda: coll.insert_one({"_id": 3, "code": "a"}),
                  lambda: coll.insert_one({"_id": 3, "company_id": "c", "version": 2}),
                  lambda: coll.update_one({"_id": 2}, {"$set": {"code": "a"}}),
                  lambda: coll.replace_one({"_id": 2}, {"code": "a"}),
                  lambda: coll.update_one({"_id": 9}, {"$set": {"code": "b"}}, upsert=True)):
        with pytest.raises(DuplicateKeyError) as err:
            write()
        assert err.value.code == 11000
    assert coll.find_one({"_id": 2})["code"] == "b" and coll.count_documents({}) == 2
    coll.update_one({"_id": 2}, {"$set": {"code": "c", "version": 3}})
    coll.insert_one({"_id": 4, "code": "b", "company_id": "c", "version": 2})  # both keys are free again
    assert coll.create_index("code", unique=True) == "code_1"
    coll.insert_one({"_id": 5, "n": "x", "code": "e", "company_id": "d", "version": 1})
    coll.insert_one({"_id": 6, "n": "x", "code": "f", "company_id": "d", "version": 2})
    with pytest.raises(DuplicateKeyError):  # existing duplicates
        coll.create_index("n", unique=True)


def test_compound_index_queries_answer_the_same(coll):
    rows = [("c1", 10.0, ["a"]), ("c1", 20.0, ["a", "b"]), ("c1", 30.0, []), ("c2", 20.0, ["a"]), ("c1", 40.0, ["b"])]
    for i, (company, at, tags) in enumerate(rows):
        coll.insert_one({"_id": i, "company_id": company, "started_at": at, "tags": tags})
    flt = {"company_id": "c1", "started_at": {"$gte": 10.0, "$lt": 40.0}}
    before = [list(coll.find(flt, sort=[("started_at", -1)])), coll.count_documents({**flt, "tags": "a"})]
    coll.create_index([("company_id", 1), ("started_at", -1)])
    after = [list(coll.find(flt, sort=[("started_at", -1)])), coll.count_documents({**flt, "tags": "a"})]
    assert before == after and _ids(after[0]) == [2, 1, 0] and after[1] == 2
    assert _ids(coll.find(flt).sort("started_at", -1).skip(1).limit(1)) == [1]


def test_returned_documents_share_nothing_with_the_update_or_the_store(coll):
    coll.insert_one({"_id": "a", "log": [1]})
    value = {"k": [1]}
    after = coll.find_one_and_update({"_id": "a"}, {"$set": {"obj": value}, "$push": {"log": 2}},
                                     return_document=ReturnDocument.AFTER)
    after["obj"]["k"].append(99)
    after["log"].append(99)
    assert value == {"k": [1]}
    before = coll.find_one_and_update({"_id": "a"}, {"$push": {"log": 3}})
    assert before == {"_id": "a", "log": [1, 2], "obj": {"k": [1]}}
    assert coll.find_one({"_id": "a"})["log"] == [1, 2, 3]
    up = coll.find_one_and_update({"_id": "b", "tags": ["x"]}, {"$inc": {"n": 1}}, upsert=True,
                                  return_document=ReturnDocument.AFTER)
    assert up == {"_id": "b", "tags": ["x"], "n": 1} == coll.find_one({"_id": "b"})


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
    {"v": {"$gt": "z"}}, {"$or": [{"v": {"$lt": 0}}, {"v": {"$in": ["é", None]}}]}, {"v": 0},
    {"v": {"$gt": 1.5, "$lte": 3}}, {"v": {"$lt": 0.5}}, {"v": {"$gt": -5}}, {"v": {"$gte": 2}},
    {"v": {"$in": [2.5, -3]}}, {"v": {"$in": [0, 2.5]}}, {"v": {"$ne": 2.5}}, {"v": {"$gt": 2, "$ne": 3}},
    {"v": {"$in": ["[1]", "a"]}}, {"v": {"$lte": "a"}}, {"v": {"$gt": False}},
]
TRICKY_SORTS = [None, [("v", 1)], [("v", -1)], [("w.x", 1), ("v", -1)], [("_id", -1)]]
ALWAYS = {"no_sql.0": {"$exists": False}}  # true for every document, and has no SQL form


@pytest.mark.parametrize("indexed", ["no index", "index", "index, no arrays"])
@pytest.mark.parametrize("flt", TRICKY_FILTERS, ids=repr)
def test_sql_and_python_fallback_return_the_same(embedded, flt, indexed):
    if indexed != "no index":
        embedded.create_index("v")
        embedded.create_index([("w.x", 1), ("v", -1)])
    for doc in TRICKY_DOCS:
        if indexed != "index, no arrays" or not isinstance(doc.get("v"), list):
            embedded.insert_one(doc)
    slow = {"$and": [flt, ALWAYS]} if flt else ALWAYS
    assert embedded.explain(flt)["exact"] and not embedded.explain(slow)["exact"]
    if indexed == "index, no arrays" and "v" in str(flt):
        assert "json_each(doc, '$.v')" not in embedded.explain(flt)["sql"]  # the plain, indexable form
    for sort in TRICKY_SORTS:
        for skip, limit in [(0, 0), (1, 3), (5, 0), (0, 1)]:
            got = embedded.find(flt, sort=sort, skip=skip, limit=limit)
            assert list(got) == list(embedded.find(slow, sort=sort, skip=skip, limit=limit)), (sort, skip, limit)
    assert embedded.count_documents(flt) == embedded.count_documents(slow)


SHAPED_FILTERS = TRICKY_FILTERS + [
    {"_id": "CA1", "$or": [{"session.seq": {"$lte": 5}}, {"session": {"$exists": False}}]},
    {"_id": 12}, {"_id": {"$in": ["a", 40, 2.0, "[x"]}}, {"company_id": "c1", "norm": "words here", "queue": "s"},
    {"from": "+15125550100", "company_id": "c", "_id": {"$ne": "CA9"}}, {"v": {"$gte": 3, "$lt": 9}},
    {"v": {"$exists": ""}}, {"v": {"$exists": "yes"}}, {"v": {"$in": ["x", "{y"]}}, {"v": {"$lte": 2 ** 60}},
    {"v": {"$gt": 7, "$ne": 8}}, {"v": "", "w": "a"}, {"w.x": {"$in": [3, 4, 5]}}, {"v": {"k": "v"}},
    {"_id": 0.0}, {"_id": -0.0}, {"_id": {"$in": [-0.0, 1.0]}}, {"_id": {"$in": [0.0, 1.0]}},
]


def _revalued(value, rng):
    """The same filter with other ordinary strings and whole numbers in it (the same shape)."""
    if isinstance(value, dict):
        return {k: _revalued(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_revalued(v, rng) for v in value]
    if isinstance(value, str) and value and value[0] not in "[{":
        return rng.choice(["a", "zz", "é", "CA" + "7" * 30, "1", "x y", "\\", "'", '"q"', "]"])
    if isinstance(value, int) and not isinstance(value, bool) and 2 <= value < 2 ** 53:
        return rng.choice([2, 3, 17, 2 ** 40, 2 ** 53 - 1])
    return value


@pytest.mark.parametrize("flt", SHAPED_FILTERS, ids=repr)
def test_filters_compiled_once_per_shape_give_the_sql_compiled_anew(flt):
    import random

    from records.docstore import sql

    rng = random.Random(repr(flt))
    for scalar in (frozenset(), frozenset({"v", "w.x", "_id", "session.seq"})):
        for _ in range(6):
            again = _revalued(flt, rng)
            assert sql.compile_filter(again, scalar) == sql._document(again, scalar), again


def _count_decodes(monkeypatch) -> list:
    """A list that grows by one each time the embedded store decodes a stored document."""
    from records.docstore import collection, documents, matching

    decoded: list = []
    real = documents.loads
    for module in (collection, matching):
        monkeypatch.setattr(module, "loads", lambda text: decoded.append(1) or real(text))
    return decoded


def test_count_documents_decodes_no_document(embedded, monkeypatch):
    for i in range(20):
        embedded.insert_one({"_id": i, "grp": "g" if i % 2 else "h", "i": i, "tags": ["a", str(i)]})
    decoded = _count_decodes(monkeypatch)
    assert embedded.count_documents({"grp": "g", "i": {"$gte": 5}, "tags": "a"}) == 8
    assert embedded.count_documents({"$or": [{"i": {"$in": [1, 2]}}, {"tags": "17"}]}) == 3
    assert decoded == []
    assert embedded.count_documents({"grp": "g", **ALWAYS}) == 10 and decoded  # the fallback decodes


# --- embedded only: the product's queries are served by indexes --------------------------------

def _product_store(directory: str):
    """Collections indexed as the product indexes them, with a few realistic documents."""
    db = EmbeddedClient(directory)["voiceagent"]
    db["turns"].create_index([("call_sid", 1), ("seq", 1)])
    db["turns"].create_index("company_id")
    db["calls"].create_index([("company_id", 1), ("started_at", -1)])
    db["calls"].create_index("started_at")
    db["calls"].create_index("from")
    db["cheatsheets"].create_index("company_id")
    for i in range(40):
        company = f"co{i % 4}"
        db["calls"].insert_one({"_id": f"CA{i}", "company_id": company, "started_at": 1000.0 + i,
                                "from": f"+1512555{i % 7:04d}", "tags": ["pricing"] if i % 2 else [],
                                "actions": ["TRANSFER"] if i % 3 == 0 else ["SAY"], "tiers": ["1", "3"]})
        for seq in range(3):
            db["turns"].insert_one({"_id": f"CA{i}:{seq}", "call_sid": f"CA{i}", "seq": seq, "company_id": company})
        db["cheatsheets"].insert_one({"_id": f"{company}:{i:06d}", "company_id": company, "version": i})
    return db


def _product_queries():
    window = {"company_id": "co1", "started_at": {"$gte": 1005.0, "$lt": 1030.0}}
    calls = [{**window, "tags": "pricing"}, {**window, "actions": "TRANSFER"}, {**window, "tiers": "3"},
             {**window, "tags": "pricing", "actions": "TRANSFER", "tiers": "3"}]
    # (collection, filter, sort, skip, limit, count, the index also gives the order)
    queries = [("turns", {"call_sid": "CA7"}, [("seq", 1)], 0, 0, False, True),
               ("calls", {"from": "+15125550003", "company_id": "co3"}, None, 0, 1, False, False),
               ("cheatsheets", {"company_id": "co2"}, [("version", -1)], 0, 1, False, False),
               ("calls", {"_id": "CA9"}, None, 0, 1, False, True),
               ("turns", {"_id": {"$in": ["CA1:0", "CA1:2"]}}, None, 0, 0, False, False)]
    for flt in calls:
        queries += [("calls", flt, [("started_at", -1)], 1, 2, False, True), ("calls", flt, None, 0, 0, True, True)]
    return queries


@pytest.mark.parametrize("name, flt, sort, skip, limit, count, sorted_by_index", _product_queries())
def test_product_queries_search_an_index_and_never_scan_the_table(tmp_path, name, flt, sort, skip, limit, count,
                                                                  sorted_by_index):
    fresh = EmbeddedClient(str(tmp_path))  # a new process: knows the indexes only from disk
    _product_store(str(tmp_path))
    coll = fresh["voiceagent"][name]
    plan = coll.explain(flt, sort=sort, skip=skip, limit=limit, count=count)
    steps = " | ".join(plan["plan"])
    assert plan["exact"], plan  # SQLite answers alone: no document checked in Python
    assert f"SCAN c_{name}" not in steps and f"SEARCH c_{name} USING" in steps and "INDEX" in steps, steps
    if sorted_by_index:
        assert "TEMP B-TREE" not in steps, steps
    if "started_at" in flt:  # the window is an index range too, not a filter on each of the company's calls
        assert "ix|c_calls|company_id:1|started_at:-1 (<expr>=? AND <expr>>? AND <expr><?)" in steps, steps
    slow = {"$and": [flt, ALWAYS]}
    if count:
        assert coll.count_documents(flt) == coll.count_documents(slow) > 0
    else:
        got = list(coll.find(flt, sort=sort, skip=skip, limit=limit))
        assert got and got == list(coll.find(slow, sort=sort, skip=skip, limit=limit))


def test_an_indexed_field_holding_arrays_still_uses_its_index(embedded):
    embedded.create_index("tags")
    for i in range(30):
        embedded.insert_one({"_id": i, "tags": ["a", f"t{i}"] if i % 2 else f"t{i}"})
    plan = embedded.explain({"tags": "t4"})
    assert plan["exact"] and "SCAN c_things" not in " ".join(plan["plan"]), plan
    assert _ids(embedded.find({"tags": "t4"})) == [4] and _ids(embedded.find({"tags": "t5"})) == [5]
    assert embedded.count_documents({"tags": "a"}) == 15
    plain = EmbeddedClient(embedded.database.client.directory)["db"]["things"].explain({"tags": "t4"})
    assert "json_each" in plain["sql"]  # a new client knows the field holds arrays


# --- embedded only: one decode per read-modify-write, errors stay pymongo's ---------------------

def test_an_update_decodes_each_document_once(embedded, monkeypatch):
    embedded.insert_one({"_id": "a", "n": 1, "log": [], "at": {"when": 1}})
    decoded = _count_decodes(monkeypatch)
    embedded.update_one({"_id": "a"}, {"$inc": {"n": 1}, "$push": {"log": 1}})
    assert len(decoded) == 1
    after = embedded.find_one_and_update({"_id": "a"}, {"$inc": {"n": 1}}, return_document=ReturnDocument.AFTER)
    before = embedded.find_one_and_update({"_id": "a"}, {"$inc": {"n": 1}})
    assert len(decoded) == 3 and (before["n"], after["n"]) == (3, 3)


SET_DOCS = [{"_id": "a", "n": 1, "s": {"seq": 1, "tags": ["x"]}, "f": 0.1, "u": "é\n\u2028\"q\"", "big": 2 ** 70},
            {"_id": "b", "s": None}, {"_id": 3, "arr": [1, {"k": [2]}]}, {"_id": "d", "when": datetime(2026, 1, 2, 3, 4, 5)}]
SET_UPDATES = [
    ({"_id": "a"}, {"$set": {"n": 2, "new": [1, 2.5, None, True], "s": {"seq": 2}}}),
    ({"_id": "a"}, {"$set": {"n": 2}}),                                   # no change: matched, not modified
    ({"_id": "a", "s.seq": {"$lte": 1}}, {"$set": {"n": 3}}),           # the filter refuses it
    ({"_id": "a", "$or": [{"s.seq": {"$lte": 5}}, {"s": {"$exists": False}}]}, {"$set": {"f": 0.30000000000000004}}),
    ({"_id": "b"}, {"$set": {"s": {"deep": {"er": "é"}}, "t": "x"}, "$setOnInsert": {"made": 1}}),
    ({"_id": 3}, {"$set": {"arr": [], "when": datetime(2026, 5, 6)}}),
    ({"_id": "d"}, {"$set": {"u": "\u00e9\t<tab>", "big": -(2 ** 65), "e": 1e-07}}),
    ({"_id": "a"}, {"$set": {"nan": float("nan")}}),                      # not JSON: Python writes it
    ({"_id": "a"}, {"$set": {"s.seq": 9}}),                               # a dotted path: Python applies it
    ({"_id": "a"}, {"$set": {"after_nan": 1}}),                          # a stored NaN: SQLite cannot read it
    ({"_id": "zz"}, {"$set": {"n": 1}, "$setOnInsert": {"made": True}}),
    ({"n": 2}, {"$set": {"by": "value"}}),
]


@pytest.mark.parametrize("indexed", [False, True])
@pytest.mark.parametrize("upsert", [False, True])
def test_a_set_update_rewritten_in_sql_stores_what_python_would(tmp_path, monkeypatch, upsert, indexed):
    from records.docstore import collection

    fast = EmbeddedClient(str(tmp_path / "fast"))["db"]["things"]
    slow = EmbeddedClient(str(tmp_path / "slow"))["db"]["things"]
    for coll in (fast, slow):
        if indexed:
            coll.create_index("n")
        for doc in SET_DOCS:
            coll.insert_one(doc)
    real = collection._sql_set
    for flt, update in SET_UPDATES:
        results = []
        for coll, sql in ((fast, True), (slow, False)):
            monkeypatch.setattr(collection, "_sql_set", real if sql else (lambda update: None))
            try:
                res = coll.update_one(flt, update, upsert=upsert)
                results.append((res.matched_count, res.modified_count, res.upserted_id))
            except (DuplicateKeyError, StoreUnavailable) as exc:  # NaN is not JSON to the index on n: refused alike
                results.append(exc.__class__.__name__)
        assert results[0] == results[1], (flt, update)
        stored = [sorted(c.database.connection().execute(f'SELECT id, doc FROM "{c.table}"')) for c in (fast, slow)]
        assert stored[0] == stored[1], (flt, update)
    assert fast.find_one({"_id": "a"})["f"] == 0.30000000000000004 and fast.find_one({"_id": 3})["when"] == datetime(
        2026, 5, 6)


def test_a_top_level_set_is_one_sql_rewrite_without_decoding(embedded, monkeypatch):
    embedded.insert_one({"_id": "a", "session": {"seq": 1}, "turns": 1})
    decoded = _count_decodes(monkeypatch)
    guard = {"_id": "a", "$or": [{"session.seq": {"$lte": 2}}, {"session": {"$exists": False}}]}
    assert embedded.update_one(guard, {"$set": {"session": {"seq": 2}, "turns": 2}}, upsert=True).modified_count == 1
    with pytest.raises(DuplicateKeyError):  # an older snapshot: its filter fails on the existing document
        embedded.update_one({**guard, "$or": [{"session.seq": {"$lte": 1}}, {"session": {"$exists": False}}]},
                            {"$set": {"session": {"seq": 1}}}, upsert=True)
    assert decoded == [] and embedded.find_one({"_id": "a"}) == {"_id": "a", "session": {"seq": 2}, "turns": 2}


class _CommitFails:
    """A connection whose COMMIT fails after SQLite rolled back by itself (as on a disk I/O error)."""

    def __init__(self, conn: sqlite3.Connection, rollback_fails: bool) -> None:
        self.conn, self.rollback_fails, self.failed = conn, rollback_fails, False

    @property
    def in_transaction(self) -> bool:
        return (self.failed and self.rollback_fails) or self.conn.in_transaction

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            self.conn.execute("ROLLBACK")
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        if sql == "ROLLBACK" and self.failed:
            raise sqlite3.OperationalError("cannot rollback - no transaction is active")
        return self.conn.execute(sql, *args)

    def close(self) -> None:
        self.conn.close()


@pytest.mark.parametrize("rollback_fails", [False, True])
def test_a_failing_commit_is_store_unavailable_even_when_rollback_fails(embedded, rollback_fails):
    embedded.insert_one({"_id": "a", "n": 1})
    db = embedded.database
    db._local.conn = _CommitFails(db.connection(), rollback_fails)
    with pytest.raises(StoreUnavailable, match="disk I/O error"):
        embedded.update_one({"_id": "a"}, {"$inc": {"n": 1}})
    if rollback_fails:
        assert db._local.conn is None  # a connection that seems stuck in a transaction is dropped
    else:
        with pytest.raises(StoreUnavailable):
            embedded.find_one_and_update({"_id": "a"}, {"$inc": {"n": 1}})
        db._local.conn = db._local.conn.conn
    assert embedded.find_one({"_id": "a"})["n"] == 1  # nothing landed, and the store still works
    embedded.update_one({"_id": "a"}, {"$inc": {"n": 1}})
    assert EmbeddedClient(db.client.directory)["db"]["things"].find_one({"_id": "a"})["n"] == 2


def test_a_lock_held_by_another_process_is_store_unavailable(tmp_path):
    coll = EmbeddedClient(str(tmp_path), timeout_s=0.05)["db"]["x"]
    coll.insert_one({"_id": "a", "n": 1})
    other = sqlite3.connect(coll.database.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        for write in (lambda: coll.update_one({"_id": "a"}, {"$inc": {"n": 1}}),
                      lambda: coll.insert_one({"_id": "b"}), lambda: coll.create_index("n"),
                      lambda: EmbeddedClient(str(tmp_path), timeout_s=0.05)["db"]["new"].insert_one({})):
            with pytest.raises(StoreUnavailable):
                write()
        assert coll.find_one({"_id": "a"})["n"] == 1  # WAL: readers are not blocked by the writer
    finally:
        other.execute("ROLLBACK")
        other.close()
    coll.update_one({"_id": "a"}, {"$inc": {"n": 1}})
    assert coll.find_one({"_id": "a"}, {"n": 1}) == {"_id": "a", "n": 2}
