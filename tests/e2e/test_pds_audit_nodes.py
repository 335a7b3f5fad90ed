"""pds-audit across several gateway nodes (issue #15 item 4): each node keeps
its own chain and names itself in every record (PDSNodeName); `verify
--nodes` checks each chain on its own and gives the overall result, `query
--nodes` merges the records into one view ordered by time, `report --nodes`
counts them together. Two real gateways with the same keys write the logs."""
import csv
import io
import json
import os
import shutil

import pytest

import pds_harness as H
from pds_configs import OTHER_SUBJECT, SUBJECT
from test_pds_audit import (CHECKPOINT_EVERY, CONFIG, audit_directives, make_keys, read_lines,
                            record_path, run, run_ok, write_lines)

NODES = ("gw-a", "gw-b")


@pytest.fixture(scope="module")
def two_nodes(gateway_factory, tmp_path_factory):
    """Two gateways, the same keys, their own logs; requests alternate."""
    keys = make_keys(str(tmp_path_factory.mktemp("nkeys")))
    gws = [gateway_factory("PDSNodeName %s\n" % n + CONFIG,
                           audit_directives=audit_directives(keys)) for n in NODES]
    asked = []      # (node, request id, status)
    for i in range(7):
        gw = gws[i % 2]
        r = gw.get(record_path(SUBJECT if i % 3 else OTHER_SUBJECT), who="health-board",
                   purpose="direct-care" if i != 4 else "marketing")
        asked.append((NODES[i % 2], r.headers["PDS-Request-Id"], r.status_code))
    return keys, [gw.httpd.audit_path for gw in gws], asked


def test_verify_nodes_checks_each_chain_and_names_its_node(two_nodes):
    keys, logs, _ = two_nodes
    rc, out, err = run("verify", "--key", keys["hmac"], "--public-key", keys["public"],
                       "--nodes", *logs)
    assert rc == 0, out + err
    for node, log in zip(NODES, logs):
        assert "node log %s:" % log in out
        assert "node: %s" % node in out
    assert out.count("intact: 1 file(s)") == 2, out
    assert out.rstrip().endswith("all 2 node logs intact: gw-a (%s) gw-b (%s)" % tuple(logs))


def test_verify_nodes_names_the_node_whose_chain_is_broken(two_nodes, tmp_path):
    keys, logs, _ = two_nodes
    lines = read_lines(logs[1])
    broken = write_lines(tmp_path / "b.jsonl", lines[:1] + lines[2:])   # a line removed
    rc, out, err = run("verify", "--key", keys["hmac"], "--nodes", logs[0], broken)
    assert rc == 1, out + err
    assert "NOT INTACT: 1 of 2 node logs: gw-b (%s)" % broken in out
    assert "%s:2: seq 3:" % broken in out
    # the other node's chain still verifies, on its own
    assert "node log %s:\nintact" % logs[0] in out


def test_without_nodes_two_logs_are_not_one_chain(two_nodes):
    keys, logs, _ = two_nodes
    rc, out, _ = run("verify", "--key", keys["hmac"], *logs)
    assert rc == 1 and "NOT INTACT" in out


def test_query_nodes_merges_by_time_each_record_naming_its_node(two_nodes):
    _, logs, asked = two_nodes
    out = run_ok("query", "--nodes", "--format", "jsonl", *logs)
    recs = [json.loads(l) for l in out.splitlines()]
    assert [(r["node"], r["request_id"], r["status"]) for r in recs] == asked
    assert [r["time"] for r in recs] == sorted(r["time"] for r in recs)
    # every line is the evidence, byte for byte
    written = set(read_lines(logs[0]) + read_lines(logs[1]))
    assert all(l in written for l in out.splitlines())

    rows = list(csv.DictReader(io.StringIO(run_ok("query", "--nodes", "--format", "csv",
                                                  *logs), newline="")))
    assert [(r["node"], r["request_id"]) for r in rows] == [(n, i) for n, i, _ in asked]
    table = run_ok("query", "--nodes", *logs).splitlines()
    assert table[0].split()[:3] == ["TIME", "NODE", "SEQ"]
    assert [row.split()[1] for row in table[1:]] == [n for n, _, _ in asked]


def test_query_nodes_filters_by_node(two_nodes):
    _, logs, asked = two_nodes
    out = run_ok("query", "--nodes", "--node", "gw-b", "--format", "jsonl", *logs)
    assert [json.loads(l)["request_id"] for l in out.splitlines()] == [
        i for n, i, _ in asked if n == "gw-b"]
    assert run_ok("query", "--nodes", "--node", "gw-c", "--format", "jsonl", *logs) == ""


def test_report_nodes_counts_every_node(two_nodes):
    _, logs, asked = two_nodes
    doc = json.loads(run_ok("report", "--nodes", "--format", "json", *logs))
    assert doc["allowed"] == sum(1 for *_, s in asked if s == 200)
    assert doc["refused"] == sum(1 for *_, s in asked if s != 200)
    assert doc["decisions_by_node"] == {n: sum(1 for m, *_ in asked if m == n) for n in NODES}
    text = run_ok("report", "--nodes", *logs)
    assert "\nBy node: gw-a=4, gw-b=3\n" in text, text
    person = json.loads(run_ok("report", "--nodes", "--subject", SUBJECT, "--format", "json",
                               *logs))
    times = [d["time"] for d in person["disclosures"]]
    assert times == sorted(times) and len(times) == sum(
        1 for i, (_, _, s) in enumerate(asked) if s == 200 and i % 3)


def test_nodes_with_series_reads_each_nodes_rotated_files(gateway_factory, tmp_path):
    keys = make_keys(str(tmp_path))
    gws = [gateway_factory("PDSNodeName %s\n" % n + CONFIG,
                           audit_directives=audit_directives(keys)) for n in NODES]
    ids = []
    for rotate in (True, False):
        for gw in gws:
            ids.append(gw.get(record_path(SUBJECT), who="health-board",
                              purpose="direct-care").headers["PDS-Request-Id"])
            if rotate:
                os.rename(gw.httpd.audit_path, gw.httpd.audit_path + ".1")
                H.graceful_restart(gw.httpd)
    logs = [gw.httpd.audit_path for gw in gws]
    rc, out, err = run("verify", "--key", keys["hmac"], "--series", "--nodes", *logs)
    assert rc == 0, out + err
    assert out.count("intact: 2 file(s)") == 2, out
    out = run_ok("query", "--series", "--nodes", "--format", "jsonl", *logs)
    assert [json.loads(l)["request_id"] for l in out.splitlines()] == ids


@pytest.mark.parametrize("args, words", [
    (["verify", "--key", "k", "--nodes", "--anchor", "1:" + "a" * 64, "a", "b"],
     "--anchor and --expect-last-seq are one chain's"),
    (["verify", "--key", "k", "--nodes", "--expect-last-seq", "3", "a", "b"],
     "--anchor and --expect-last-seq are one chain's"),
    (["query", "--series", "a", "b"], "--series takes exactly one file"),
    (["keygen", "--nodes", "--hmac", "x"], "keygen does not take --nodes"),
])
def test_nodes_usage_errors(args, words):
    rc, out, err = run(*args)
    assert rc == 2 and words in err, out + err


def test_one_node_name_in_two_logs_is_noted(two_nodes, tmp_path):
    keys, logs, _ = two_nodes
    twin = str(tmp_path / "twin.jsonl")
    shutil.copy(logs[0], twin)
    rc, out, err = run("verify", "--key", keys["hmac"], "--nodes", logs[0], twin)
    assert rc == 0, out + err
    assert "both name node gw-a" in err


# ---- each node with keys of its own: verify --nodes takes them all

def node_gateways(gateway_factory, tmp_path_factory, tag):
    """Two gateways whose keys were each made on the node itself."""
    keys = [make_keys(str(tmp_path_factory.mktemp("%s-%s" % (tag, n)))) for n in NODES]
    gws = [gateway_factory("PDSNodeName %s\n" % n + CONFIG, audit_directives=audit_directives(k))
           for n, k in zip(NODES, keys)]
    return keys, gws


def ask_each(gws, n=3):
    for _ in range(n):
        for gw in gws:
            r = gw.get(record_path(SUBJECT), who="health-board", purpose="direct-care")
            assert r.status_code == 200, H.describe(r)


@pytest.fixture(scope="module")
def own_keys(gateway_factory, tmp_path_factory):
    keys, gws = node_gateways(gateway_factory, tmp_path_factory, "own")
    ask_each(gws, CHECKPOINT_EVERY + 1)         # a checkpoint in each log
    return keys, [gw.httpd.audit_path for gw in gws]


def test_verify_nodes_takes_every_nodes_key(own_keys):
    keys, logs = own_keys
    hmacs = ["--key", keys[0]["hmac"], "--key", keys[1]["hmac"]]
    publics = ["--public-key", keys[0]["public"], "--public-key", keys[1]["public"]]
    rc, out, err = run("verify", *hmacs, *publics, "--nodes", *logs)
    assert rc == 0, out + err
    assert out.rstrip().endswith("all 2 node logs intact: gw-a (%s) gw-b (%s)" % tuple(logs))
    # the keys given in the other order verify the same
    rc, out, err = run("verify", "--key", keys[1]["hmac"], "--key", keys[0]["hmac"],
                       "--public-key", keys[1]["public"], "--public-key", keys[0]["public"],
                       "--nodes", *logs)
    assert rc == 0, out + err


def test_verify_nodes_with_one_nodes_key_fails_only_the_other_node(own_keys):
    keys, logs = own_keys
    rc, out, err = run("verify", "--key", keys[0]["hmac"], "--nodes", *logs)
    assert rc == 1, out + err
    # no line of gw-b's log verified, so none names its node
    assert "NOT INTACT: 1 of 2 node logs: (no verified line names a node) (%s)" % logs[1] \
        in out, out
    assert "%s:1: seq 1: bad-mac" % logs[1] in out, out
    assert "node log %s:\nintact" % logs[0] in out, out
    # every HMAC key but one node's checkpoint key: that node's checkpoints fail
    rc, out, err = run("verify", "--key", keys[0]["hmac"], "--key", keys[1]["hmac"],
                       "--public-key", keys[1]["public"], "--nodes", *logs)
    assert rc == 1, out + err
    assert "NOT INTACT: 1 of 2 node logs: gw-a (%s)" % logs[0] in out, out
    assert "bad-checkpoint" in out, out


def test_verify_nodes_series_takes_a_nodes_old_and_new_key(gateway_factory, tmp_path_factory,
                                                           log_allow):
    """gw-b's audit key changes with its file (rename + graceful restart);
    gw-a keeps its own: the series of both verify with the three keys."""
    log_allow.append("PDS00053")                    # the rotation notice
    keys, gws = node_gateways(gateway_factory, tmp_path_factory, "rot")
    ask_each(gws)
    h = gws[1].httpd
    old = str(tmp_path_factory.mktemp("rot-kept") / "gw-b-old.key")
    shutil.copy(keys[1]["hmac"], old)
    new = old.replace("-old.key", "-new.key")
    run_ok("keygen", "--hmac", new)
    shutil.copy(new, keys[1]["hmac"])
    os.rename(h.audit_path, h.audit_path + ".1")
    H.graceful_restart(h)
    ask_each(gws)
    logs = [gw.httpd.audit_path for gw in gws]

    rc, out, err = run("verify", "--key", keys[0]["hmac"], "--key", old, "--key", new,
                       "--series", "--nodes", *logs)
    assert rc == 0, out + err
    assert out.count("changed 1 time(s), each at the start of a file") == 1, out
    assert out.rstrip().endswith("all 2 node logs intact: gw-a (%s) gw-b (%s)" % tuple(logs))
    # without gw-b's old key its rotated file fails, and only gw-b
    rc, out, err = run("verify", "--key", keys[0]["hmac"], "--key", new, "--series", "--nodes",
                       *logs)
    assert rc == 1, out + err
    assert "NOT INTACT: 1 of 2 node logs: (no verified line names a node) (%s)" % logs[1] \
        in out, out
    assert "%s.1:1: seq 1: bad-mac" % logs[1] in out, out
