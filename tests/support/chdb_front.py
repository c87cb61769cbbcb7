#!/usr/bin/env python3
"""TEST-ONLY HTTP front that makes the in-process ClickHouse engine of chdb
(PyPI ``chdb-core``) look like a ClickHouse server's HTTP interface, enough for
the Rust ``clickhouse`` crate (0.15) used by the exporter.  Not a server for
anything but tests: no TLS, no real users, one engine lock, bodies buffered.

    python3 tests/support/chdb_front.py --port PORT --data DIR [--user U --password P]

Prints ``listening on 127.0.0.1:PORT`` once ready (``--port 0`` picks a free
port) and serves until killed; tables live under DIR, so a restart on the same
DIR (even after SIGKILL) finds the same MergeTree tables, rows and dedup logs.
One front per DIR: chdb locks DIR/status, so stop the old one before restarting.
An upload cut off before its end (client abort) inserts nothing.

What it does, ClickHouse-style:
* ``GET /ping`` and ``GET /`` without a query answer ``Ok.``.
* Query text = ``query`` URL parameter (or multipart field), then the body.
  ``INSERT ... FORMAT F`` sends the data after the format name to the engine
  as raw input (chdb ``send_insert``), so insert deduplication (by block and by
  ``insert_deduplication_token``) behaves as on a server.
* ``decompress=1``: the body is in ClickHouse's native compressed block format
  (LZ4 0x82, none 0x02, ZSTD 0x90 if ``zstandard`` is importable); CityHash128
  checksums are verified when ``clickhouse_cityhash`` is importable.
* Responses are compressed per ``Accept-Encoding`` (lz4 frame / gzip / deflate)
  unless ``enable_http_compression=0``, or in native blocks with ``compress=1``.
* ``database`` param / ``X-ClickHouse-Database`` header picks the database,
  ``param_*`` are query parameters, other parameters are settings applied to
  that one query (``SET``, then reset), ``default_format`` picks the output.
* Errors: status as ClickHouse maps it, body ``Code: N. DB::Exception: ...
  (NAME) (version V (official build))``, header ``X-ClickHouse-Exception-Code``.
"""
import argparse
import base64
import gzip
import json
import re
import struct
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import lz4.block
import lz4.frame
from chdb import session as chdb_session

try:
    from clickhouse_cityhash.cityhash import CityHash128
except ImportError:  # checksums are then neither verified nor produced
    CityHash128 = None
try:
    import zstandard
except ImportError:
    zstandard = None

# URL parameters that steer the HTTP layer and are not engine settings.
TRANSPORT = {"query", "database", "default_format", "compress", "decompress", "query_id",
             "session_id", "session_timeout", "session_check", "user", "password",
             "quota_key", "role", "buffer_size", "wait_end_of_query", "stacktrace",
             "client_protocol_version", "enable_http_compression", "http_zlib_compression_level"}
# chdb's defaults that differ from clickhouse-server's; restored after each query.
SERVER_DEFAULTS = {"async_insert": "0", "date_time_input_format": "'basic'", "implicit_select": "0"}
BINARY_FORMATS = ("RowBinary", "Native", "Parquet", "Arrow", "ORC", "Avro", "Protobuf", "MsgPack", "BSON")
STATUS_BY_NAME = {403: {"UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "ACCESS_DENIED"},
                  400: {"BAD_ARGUMENTS", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
                        "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME",
                        "CANNOT_PARSE_NUMBER", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6", "CANNOT_PARSE_UUID",
                        "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
                        "THERE_IS_NO_COLUMN", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
                        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE", "UNEXPECTED_AST_STRUCTURE"},
                  404: {"UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE",
                        "UNKNOWN_STORAGE", "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_FORMAT",
                        "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY"},
                  501: {"NOT_IMPLEMENTED"}, 408: {"TIMEOUT_EXCEEDED"}}
# INSERT ... FORMAT name; quoted identifiers/strings are skipped whole, VALUES/SELECT end the search.
INSERT_FORMAT = re.compile(rb"""(?is)\s*INSERT\s(?:`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
                           rb"""|(?!\bVALUES\b|\bSELECT\b)[^`"'])*?\bFORMAT\s+([A-Za-z0-9_]+)""")
TRAILING_FORMAT = re.compile(r"(?is)\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CHError(Exception):
    def __init__(self, code, name, text):
        super().__init__(text)
        self.code, self.name, self.text = code, name, text

    @classmethod
    def of(cls, code, name, msg):
        return cls(code, name, f"Code: {code}. DB::Exception: {msg}. ({name})")

    @classmethod
    def from_engine(cls, exc):
        text = str(exc)
        text = text[text.find("Code: "):] if "Code: " in text else text
        text = re.sub(r"\s*\(version [^()]*\)\s*$", "", text.strip())
        m = re.match(r"Code: (\d+)\.", text)
        names = re.findall(r"\(([A-Z][A-Z0-9_]+)\)", text)
        if not m:
            return cls.of(1001, "STD_EXCEPTION", text)
        return cls(int(m.group(1)), names[-1] if names else "", text)


class Engine:
    """One chdb session; every request runs under one lock (settings/USE are session state)."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.sess = chdb_session.Session(path)
        for name, value in SERVER_DEFAULTS.items():
            self.sess.query(f"SET {name} = {value}")
        self.version = self._scalar("SELECT version()")
        self.timezone = self._scalar("SELECT timezone()")

    def _scalar(self, sql):
        return self.sess.query(sql, "TabSeparated").bytes().decode().strip()

    def run(self, database, settings, params, sql, fmt, insert=None):
        """Runs sql (or, if insert=(head, format, data), a raw-input INSERT);
        returns (body bytes, summary dict)."""
        with self.lock:
            applied = []
            try:
                self.sess.query(f"USE `{database.replace('`', '``')}`")
                for name, value in settings.items():
                    if not IDENT.match(name):
                        raise CHError.of(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
                    self.sess.query(f"SET {name} = {quote(value)}")
                    applied.append(name)
                t0 = time.monotonic_ns()
                if insert:
                    head, in_fmt, data = insert
                    with self.sess.send_insert(head, in_fmt) as ins:
                        if data:
                            ins.append(data)
                        res = ins.finish()
                    return b"", {"written_rows": res.rows_written, "written_bytes": res.bytes_written,
                                  "elapsed_ns": time.monotonic_ns() - t0}
                res = self.sess.query(sql, fmt, params=params)
                body = res.bytes()
                return body, {"read_rows": res.rows_read(), "read_bytes": res.bytes_read(),
                              "written_rows": res.rows_written(), "written_bytes": res.bytes_written(),
                              "result_bytes": len(body), "elapsed_ns": time.monotonic_ns() - t0}
            except CHError:
                raise
            except Exception as exc:  # ChdbError / RuntimeError from the engine
                raise CHError.from_engine(exc) from None
            finally:
                for name in applied:
                    try:
                        self.sess.query(f"SET {name} = {SERVER_DEFAULTS.get(name, 'DEFAULT')}")
                    except Exception:
                        pass


def summary_header(known):
    """X-ClickHouse-Summary as ClickHouse writes it: every value a JSON string."""
    keys = ("read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read",
            "result_bytes", "elapsed_ns")
    return json.dumps({k: str(known.get(k, 0)) for k in keys}, separators=(",", ":"))


def quote(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def native_decompress(buf):
    """Decodes ClickHouse's native compressed blocks (checksum, method, sizes, payload)."""
    out, pos = [], 0
    while pos < len(buf):
        if len(buf) - pos < 25:
            raise CHError.of(271, "CANNOT_DECOMPRESS", "Cannot decompress: truncated block header")
        method = buf[pos + 16]
        csize, usize = struct.unpack_from("<II", buf, pos + 17)
        block = buf[pos + 16:pos + 16 + csize]
        if csize < 9 or len(block) < csize:
            raise CHError.of(271, "CANNOT_DECOMPRESS", "Cannot decompress: truncated block")
        if CityHash128 is not None and buf[pos:pos + 16] != checksum(block):
            raise CHError.of(40, "CHECKSUM_DOESNT_MATCH", "Checksum doesn't match: corrupted data")
        payload = block[9:]
        if method == 0x82:
            out.append(lz4.block.decompress(payload, uncompressed_size=usize))
        elif method == 0x02:
            out.append(payload)
        elif method == 0x90 and zstandard is not None:
            out.append(zstandard.ZstdDecompressor().decompress(payload, max_output_size=usize))
        else:
            raise CHError.of(89, "UNKNOWN_COMPRESSION_METHOD", f"Unknown compression method: {method:#x}")
        pos += 16 + csize
    return b"".join(out)


def checksum(block):
    h = CityHash128(block)
    return struct.pack("<QQ", h >> 64, h & 0xFFFFFFFFFFFFFFFF)


def native_compress(data):
    out = []
    for i in range(0, len(data), 1 << 20):
        chunk = data[i:i + (1 << 20)]
        comp = lz4.block.compress(chunk, store_size=False)
        block = bytes([0x82]) + struct.pack("<II", 9 + len(comp), len(chunk)) + comp
        out.append(checksum(block) + block)
    return b"".join(out)


def multipart_fields(body, content_type):
    """Text fields of a multipart/form-data body (the crate sends query + param_*)."""
    boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
    fields = {}
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        m = re.search(rb'name="([^"]*)"', head)
        if m and b"filename=" not in head:
            fields[m.group(1).decode()] = value[:-2] if value.endswith(b"\r\n") else value
    return fields


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "chdb-front"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("chdb_front: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_query()

    def do_POST(self):
        self.handle_query()

    def read_body(self):
        """Whole request body, or None if the client went away before its end."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line.endswith(b"\n"):
                    return None
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                chunk = self.rfile.read(size + 2)
                if len(chunk) < size + 2:
                    return None
                parts.append(chunk[:size])
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return body if len(body) == length else None

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fail(self, err):
        status = next((s for s, names in STATUS_BY_NAME.items() if err.name in names), 500)
        text = f"{err.text} (version {self.server.engine.version} (official build))\n"
        self.reply(status, text.encode(), [("Content-Type", "text/plain; charset=UTF-8"),
                                           ("X-ClickHouse-Exception-Code", str(err.code))])

    def handle_query(self):
        try:
            body = self.read_body()
        except (OSError, ValueError):
            body = None
        if body is None:  # aborted upload (e.g. a dropped Insert): insert nothing
            self.close_connection = True
            return
        url = urlsplit(self.path)
        if url.path == "/ping":
            return self.reply(200, b"Ok.\n")
        if url.path != "/":
            return self.reply(404, f"There is no handle {url.path}\n".encode())
        args = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            self.check_auth(args)
            if args.get("decompress") in ("1", "true"):
                body = native_decompress(body)
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("multipart/form-data"):
                fields = multipart_fields(body, ctype)
                body = b""
                args.update({k: v.decode() for k, v in fields.items() if k.startswith("param_")})
                if "query" in fields:
                    args["query"] = fields["query"].decode()
            if "query" not in args and not body and self.command == "GET":
                return self.reply(200, b"Ok.\n")
            self.execute(args, body)
        except CHError as err:
            self.fail(err)
        except Exception as exc:  # e.g. a corrupt LZ4 block: answer like a server would
            self.fail(CHError.of(1001, "STD_EXCEPTION", f"{type(exc).__name__}: {exc}"))

    def check_auth(self, args):
        user, password = "default", ""
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        user = self.headers.get("X-ClickHouse-User", args.get("user", user))
        password = self.headers.get("X-ClickHouse-Key", args.get("password", password))
        want = self.server.credentials
        if want and (user, password) != want:
            raise CHError.of(516, "AUTHENTICATION_FAILED", f"{user}: Authentication failed: password is "
                             "incorrect, or there is no user with such name")

    def execute(self, args, body):
        qparam = args.get("query", "")
        full = (qparam.encode() + b"\n" + body) if qparam else body
        if not full.strip():
            raise CHError.of(62, "SYNTAX_ERROR", "Empty query")
        database = args.get("database") or self.headers.get("X-ClickHouse-Database") or "default"
        settings = {k: v for k, v in args.items() if k not in TRANSPORT and not k.startswith("param_")}
        params = {k[6:]: v for k, v in args.items() if k.startswith("param_")}
        fmt = args.get("default_format") or self.headers.get("X-ClickHouse-Format") or "TabSeparated"
        insert, sql = None, None
        m = INSERT_FORMAT.match(full[:65536])
        if m:  # data starts after the format name: skip blanks, then one line break
            pos = m.end()
            while pos < len(full) and full[pos] in b" \t\f":
                pos += 1
            if full.startswith(b"\r\n", pos):
                pos += 2
            elif full.startswith(b"\n", pos):
                pos += 1
            head = re.sub(r"(?is)\bFORMAT\s+$", "", full[:m.start(1)].decode(errors="replace")).rstrip()
            insert = (head, m.group(1).decode(), full[pos:])
        else:
            sql = full.decode(errors="replace")
            found = TRAILING_FORMAT.search(sql)
            fmt_name = found.group(1) if found else fmt
        engine = self.server.engine
        out, summary = engine.run(database, settings, params, sql, fmt, insert)
        headers = [("X-ClickHouse-Query-Id", args.get("query_id") or str(uuid.uuid4())),
                   ("X-ClickHouse-Timezone", engine.timezone),
                   ("X-ClickHouse-Summary", summary_header(summary))]
        if sql is not None:
            binary = fmt_name.startswith(BINARY_FORMATS)
            headers += [("X-ClickHouse-Format", fmt_name),
                        ("Content-Type", "application/octet-stream" if binary else "text/plain; charset=UTF-8")]
        if args.get("compress") in ("1", "true"):
            if CityHash128 is None:
                raise CHError.of(48, "NOT_IMPLEMENTED", "compress=1 needs the clickhouse-cityhash package")
            out = native_compress(out)
        elif args.get("enable_http_compression", "1") not in ("0", "false"):
            accepted = [e.split(";")[0].strip().lower() for e in self.headers.get("Accept-Encoding", "").split(",")]
            for enc, func in (("lz4", lz4.frame.compress), ("gzip", gzip.compress), ("deflate", zlib.compress)):
                if enc in accepted:
                    out = func(out)
                    headers.append(("Content-Encoding", enc))
                    break
        self.reply(200, out, headers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data", required=True, help="directory holding the engine's databases")
    ap.add_argument("--user", help="require this user (else any credentials are accepted)")
    ap.add_argument("--password", default="")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    opts = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    server.daemon_threads = True
    server.engine = Engine(opts.data)
    server.credentials = (opts.user, opts.password) if opts.user else None
    server.verbose = opts.verbose
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
