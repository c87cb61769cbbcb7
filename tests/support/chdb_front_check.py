#!/usr/bin/env python3
"""Self-test of the test-only ClickHouse HTTP front (chdb_front.py).

Starts the front on a free port over a temp dir, drives it with urllib the way
the Rust `clickhouse` crate does (RowBinary inserts, LZ4 native-compressed
chunked bodies with decompress=1, dedup tokens, DESCRIBE/SELECT in
RowBinaryWithNamesAndTypes, lz4 response encoding, multipart params), then
SIGKILLs it, restarts it on the same dir and checks the rows survived.
Exit status 0 only if every check passed.  Needs: chdb-core, lz4, clickhouse-cityhash.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import lz4.block
import lz4.frame
from clickhouse_cityhash.cityhash import CityHash128

FRONT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chdb_front.py")
COLUMNS = [("ts", "DateTime64(6, 'UTC')"), ("kind", "LowCardinality(String)"), ("src", "IPv6"),
           ("id", "UUID"), ("dir", "Enum8('in' = 1, 'out' = 2)"), ("mos", "Nullable(Float64)"),
           ("tags", "Array(String)")]
COLS = ", ".join(name for name, _ in COLUMNS)
COLS_Q = ",".join(f"`{name}`" for name, _ in COLUMNS)  # the crate backtick-quotes its column list
passed, failed = 0, 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok:   {what}")
    else:
        failed += 1
        print(f"FAIL: {what} {detail}")


# --- RowBinary by hand -------------------------------------------------------
def varuint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def rb_string(s):
    b = s.encode()
    return varuint(len(b)) + b


def rb_row(ts_us, kind, ip, uid, direction, mos, tags):
    out = struct.pack("<q", ts_us) + rb_string(kind)
    out += socket.inet_pton(socket.AF_INET6, ip)
    out += struct.pack("<QQ", uid.int >> 64, uid.int & 0xFFFFFFFFFFFFFFFF)
    out += struct.pack("<b", direction)
    out += b"\x01" if mos is None else b"\x00" + struct.pack("<d", mos)
    return out + varuint(len(tags)) + b"".join(rb_string(t) for t in tags)


def rbwnat_header(columns):
    return varuint(len(columns)) + b"".join(rb_string(n) for n, _ in columns) + \
        b"".join(rb_string(t) for _, t in columns)


def read_rbwnat_header(buf):
    pos = 0

    def uvar():
        nonlocal pos
        n = shift = 0
        while True:
            b = buf[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return n

    def string():
        nonlocal pos
        n = uvar()
        pos += n
        return buf[pos - n:pos].decode()

    count = uvar()
    names = [string() for _ in range(count)]
    types = [string() for _ in range(count)]
    return list(zip(names, types)), buf[pos:]


def native_lz4(data):
    comp = lz4.block.compress(data, store_size=False)
    block = bytes([0x82]) + struct.pack("<II", 9 + len(comp), len(data)) + comp
    h = CityHash128(block)
    return struct.pack("<QQ", h >> 64, h & 0xFFFFFFFFFFFFFFFF) + block


def native_unpack(buf):
    out, pos = b"", 0
    while pos < len(buf):
        csize, usize = struct.unpack_from("<II", buf, pos + 17)
        out += lz4.block.decompress(buf[pos + 25:pos + 16 + csize], uncompressed_size=usize)
        pos += 16 + csize
    return out


# --- HTTP --------------------------------------------------------------------
class Front:
    def __init__(self, port, data, *extra):
        t0 = time.monotonic()
        self.port = port
        self.proc = subprocess.Popen([sys.executable, FRONT, "--port", str(port), "--data", data, *extra],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != f"listening on 127.0.0.1:{port}":
            raise SystemExit(f"front did not start: {line!r}")
        self.startup = time.monotonic() - t0

    def http(self, params=None, body=None, headers=None, path="/", method=None):
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def sql(self, query, **params):
        status, _, body = self.http(dict(params, database="vx"), query.encode())
        if status != 200:
            raise SystemExit(f"{query!r} -> {status} {body!r}")
        return body.decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    rows = [rb_row(1_700_000_000_123_456 + i, "sip" if i % 2 else "rtp", f"2001:db8::{i + 1:x}",
                   uuid.UUID(int=(0x1234 << 64) + i), 1 + i % 2, None if i % 3 == 0 else 4.25 - i / 10,
                   [f"t{j}" for j in range(i % 3)]) for i in range(6)]
    tmp = tempfile.mkdtemp(prefix="chdb_front_check.")
    port = free_port()
    front = Front(port, tmp)
    print(f"front started in {front.startup:.2f}s on port {port}, data in {tmp}")
    try:
        status, _, body = front.http(path="/ping")
        check("GET /ping -> Ok.", (status, body) == (200, b"Ok.\n"))
        check("GET / -> Ok.", front.http()[2] == b"Ok.\n")
        status, _, body = front.http({"database": "vx"}, b"SELECT 1")
        check("unknown database param -> 404 UNKNOWN_DATABASE", status == 404 and b"(UNKNOWN_DATABASE)" in body)
        check("CREATE DATABASE", front.http({"query": "CREATE DATABASE vx"})[0] == 200)
        ddl = ", ".join(f"{n} {t}" for n, t in COLUMNS)
        front.sql(f"CREATE TABLE calls ({ddl}) ENGINE = MergeTree ORDER BY (ts, id) "
                  "SETTINGS non_replicated_deduplication_window = 100")
        check("EXISTS TABLE", front.sql("EXISTS TABLE calls") == "1\n")

        ins = {"database": "vx", "query": f"INSERT INTO calls({COLS_Q}) FORMAT RowBinary",
               "insert_deduplication_token": "batch-1"}
        for _ in range(2):
            status, hdrs, body = front.http(ins, b"".join(rows[:3]))
            check("RowBinary insert (token batch-1)", status == 200, body)
        check("same token twice -> rows once", front.sql("SELECT count() FROM calls") == "3\n")
        summary = json.loads(hdrs["X-ClickHouse-Summary"])
        check("X-ClickHouse-Summary on insert (string values)", summary["written_rows"] == "3", summary)

        # Like the crate: RowBinaryWithNamesAndTypes, LZ4 native blocks, chunked, decompress=1.
        payload = native_lz4(rbwnat_header(COLUMNS) + rows[3]) + native_lz4(rows[4] + rows[5])
        ins = {"database": "vx", "query": f"INSERT INTO calls({COLS_Q}) FORMAT RowBinaryWithNamesAndTypes",
               "decompress": "1", "insert_deduplication_token": "batch-2"}
        for _ in range(2):
            status, _, body = front.http(ins, iter([payload[:40], payload[40:]]))
            check("LZ4-compressed chunked RBWNAT insert (token batch-2)", status == 200, body)
        check("compressed batch deduplicated", front.sql("SELECT count() FROM calls") == "6\n")
        bad = bytearray(payload)
        bad[30] ^= 0xFF
        status, hdrs, body = front.http(dict(ins, insert_deduplication_token="bad"), bytes(bad))
        check("corrupt block -> CHECKSUM_DOESNT_MATCH", status == 500 and b"(CHECKSUM_DOESNT_MATCH)" in body
              and hdrs["X-ClickHouse-Exception-Code"] == "40", (status, body))

        with socket.create_connection(("127.0.0.1", port)) as s:  # client aborts mid-upload
            q = urllib.parse.quote(f"INSERT INTO vx.calls({COLS}) FORMAT RowBinary")
            s.sendall(f"POST /?query={q} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      f"{len(rows[0]):x}\r\n".encode() + rows[0] + b"\r\n")
        time.sleep(0.3)
        check("aborted upload inserts nothing", front.sql("SELECT count() FROM calls") == "6\n")

        status, _, body = front.http({"database": "vx", "default_format": "RowBinaryWithNamesAndTypes",
                                      "describe_include_subcolumns": "0"}, b"DESCRIBE TABLE calls")
        header, data = read_rbwnat_header(body)
        check("DESCRIBE TABLE in RowBinaryWithNamesAndTypes has the 7 columns the crate reads",
              status == 200 and [n for n, _ in header] == ["name", "type", "default_type", "default_expression",
                                                            "comment", "codec_expression", "ttl_expression"]
              and data.startswith(rb_string("ts") + rb_string("DateTime64(6, 'UTC')")), (header, data[:40]))

        status, hdrs, body = front.http({"database": "vx", "default_format": "RowBinaryWithNamesAndTypes"},
                                        f"SELECT {COLS} FROM calls ORDER BY ts".encode())
        header, data = read_rbwnat_header(body)
        check("SELECT RowBinaryWithNamesAndTypes: header types", header == COLUMNS, header)
        check("SELECT RowBinaryWithNamesAndTypes: rows byte-identical to inserted", data == b"".join(rows))
        check("X-ClickHouse-Format header", hdrs["X-ClickHouse-Format"] == "RowBinaryWithNamesAndTypes")

        got = [json.loads(line) for line in front.sql(
            f"SELECT {COLS} FROM calls ORDER BY ts FORMAT JSONEachRow").splitlines()]
        check("SELECT JSONEachRow", len(got) == 6 and got[0] == {
            "ts": "2023-11-14 22:13:20.123456", "kind": "rtp", "src": "2001:db8::1",
            "id": "00000000-0000-1234-0000-000000000000", "dir": "in", "mos": None, "tags": []}
            and got[4]["tags"] == ["t0"] and got[4]["mos"] == 3.85, got[:1])

        plain = front.http({"database": "vx"}, b"SELECT * FROM calls ORDER BY ts")[2]
        status, hdrs, body = front.http({"database": "vx"}, b"SELECT * FROM calls ORDER BY ts",
                                        {"Accept-Encoding": "lz4"})
        check("Accept-Encoding: lz4 -> LZ4 frame body", hdrs["Content-Encoding"] == "lz4"
              and lz4.frame.decompress(body) == plain and plain.count(b"\n") == 6)
        status, hdrs, body = front.http({"database": "vx", "compress": "1"}, b"SELECT * FROM calls ORDER BY ts")
        check("compress=1 -> native LZ4 blocks", native_unpack(body) == plain)

        status, hdrs, body = front.http({"database": "vx"}, b"SELECT * FROM nosuch")
        check("error: 404, exception code header, ClickHouse text",
              status == 404 and hdrs["X-ClickHouse-Exception-Code"] == "60"
              and body.startswith(b"Code: 60. DB::Exception: ") and b"(UNKNOWN_TABLE) (version 26." in body,
              (status, body))

        boundary = "clickhouse-rs-boundary-0123456789abcdef"
        form = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n" for k, v in
                       [("query", "SELECT count() FROM calls WHERE kind = {k:String}"), ("param_k", "sip")])
        status, _, body = front.http({"database": "vx"}, (form + f"--{boundary}--\r\n").encode(),
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        check("multipart query + param_ (crate's .param())", (status, body) == (200, b"3\n"), body)
        check("URL settings apply to the query", front.sql(
            "SELECT getSetting('insert_deduplication_token')", insert_deduplication_token="abc") == "abc\n")
        check("...and are reset after it", front.sql("SELECT getSetting('insert_deduplication_token')") == "\n")
        check("server defaults, not chdb's (async_insert=0, date_time_input_format=basic)", front.sql(
            "SELECT getSetting('async_insert'), getSetting('date_time_input_format')") == "false\tbasic\n")
    finally:
        front.proc.send_signal(signal.SIGKILL)
        front.proc.wait()

    print("front killed with SIGKILL; restarting on the same dir with --user/--password")
    front = Front(port, tmp, "--user", "vx", "--password", "pw")
    print(f"front restarted in {front.startup:.2f}s")
    try:
        status, hdrs, body = front.http({"query": "SELECT 1"})
        check("no credentials -> 403 AUTHENTICATION_FAILED", status == 403 and
              hdrs["X-ClickHouse-Exception-Code"] == "516" and b"(AUTHENTICATION_FAILED)" in body, (status, body))
        auth = {"X-ClickHouse-User": "vx", "X-ClickHouse-Key": "pw"}
        status, _, body = front.http({"database": "vx"}, b"SELECT count() FROM calls", auth)
        check("rows survive SIGKILL + restart", (status, body) == (200, b"6\n"), (status, body))
        basic = {"Authorization": "Basic " + base64.b64encode(b"vx:pw").decode()}
        ins = {"database": "vx", "query": f"INSERT INTO calls({COLS}) FORMAT RowBinary",
               "insert_deduplication_token": "batch-1"}
        front.http(ins, b"".join(rows[:3]), basic)
        status, _, body = front.http({"database": "vx"}, b"SELECT count() FROM calls", basic)
        check("dedup window survives restart (Basic auth)", (status, body) == (200, b"6\n"), (status, body))
    finally:
        front.proc.send_signal(signal.SIGTERM)
        front.proc.wait()
    print(f"{passed} passed, {failed} failed")
    if failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
