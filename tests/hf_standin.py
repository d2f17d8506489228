"""A stand-in for the Hugging Face Hub's file API, as the real ``huggingface_hub`` client meets it.

This machine cannot reach huggingface.co, so ``rk-assist models pull`` is
tested against this server with ``HF_ENDPOINT`` pointing at it. It answers
what the Hub answers, in the Hub's shapes (read in huggingface_hub's
``file_download.py`` and ``utils/_http.py``):

- ``HEAD/GET /{repo}/resolve/{revision}/{file}``: a file kept in git is served
  with its git blob id as ``ETag``; an LFS file (models) is a 302 to a storage
  host on another origin (``localhost`` for ``127.0.0.1``, as the Hub sends
  to its CDN), carrying ``X-Linked-Etag`` (the SHA-256), ``X-Linked-Size`` and
  ``X-Repo-Commit``;
- the storage host honours ``Range: bytes=N-`` with a 206;
- ``GET /api/models/{repo}/tree/{revision}``: the file listing;
- errors with the Hub's ``X-Error-Code`` (RepoNotFound as a 401,
  EntryNotFound, RevisionNotFound as 404s).

Faults a download meets in the wild are played on request: a connection cut
after some bytes, the storage host down (503), bytes that differ from the
published hash, a slow stream.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".gguf", ".rkllm", ".bin", ".safetensors")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Faults:
    """What the storage host does to the next GETs, in order: ``("cut", n)`` sends n
    bytes of the range and drops the connection, ``("down", 0)`` answers 503,
    ``("corrupt", 0)`` serves other bytes of the same length; later GETs are served."""

    plan: list[tuple[str, int]] = field(default_factory=list)
    #: Seconds to pause after the first 64 KiB of every body (a slow link).
    slow: float = 0.0


class HubStandIn:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, StoredFile]] = {}
        self.faults = Faults()
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range
        self.authorizations: list[tuple[str, str | None]] = []  # host, Authorization
        self._server = _HubServer(("127.0.0.1", 0), _Handler)
        self._server.hub = self
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, repo: str, filename: str, data: bytes, lfs: bool | None = None) -> StoredFile:
        stored = StoredFile(data, filename.endswith(LFS_SUFFIXES) if lfs is None else lfs)
        self.repos.setdefault(repo, {})[filename] = stored
        return stored

    def ranges_asked(self) -> list[str | None]:
        return [rng for method, path, rng in self.requests if path.startswith("/cdn/")]

    def __enter__(self) -> HubStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _HubServer(ThreadingHTTPServer):
    hub: HubStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _HubServer

    @property
    def hub(self) -> HubStandIn:
        return self.server.hub

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = unquote(urlparse(self.path).path)
        self.hub.requests.append((self.command, path, self.headers.get("Range")))
        self.hub.authorizations.append(
            (self.headers.get("Host", ""), self.headers.get("Authorization"))
        )
        if path.startswith("/cdn/"):
            return self._storage(path.removeprefix("/cdn/"), body)
        if path.startswith("/api/models/"):
            return self._tree(path.removeprefix("/api/models/"))
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._error(404, None, "Not found")
        repo = "/".join(parts[:2])
        revision, filename = parts[3], "/".join(parts[4:])
        stored = self._find(repo, revision, filename)
        if stored is None:
            return
        if stored.lfs:
            self.send_response(302)
            self.send_header(
                "Location", f"http://localhost:{self.hub.port}/cdn/{stored.sha256}?signed=1"
            )
            self.send_header("ETag", f'"{git_blob_id(b"pointer " + stored.data[:16])}"')
            self.send_header("X-Linked-Etag", f'"{stored.sha256}"')
            self.send_header("X-Linked-Size", str(len(stored.data)))
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", f'"{git_blob_id(stored.data)}"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", str(len(stored.data)))
        self.end_headers()
        if body:
            self.wfile.write(stored.data)

    def _find(self, repo: str, revision: str, filename: str) -> StoredFile | None:
        if repo not in self.hub.repos:
            self._error(401, "RepoNotFound", "Repository not found")
            return None
        if revision not in ("main", COMMIT):
            self._error(404, "RevisionNotFound", "Invalid rev id")
            return None
        stored = self.hub.repos[repo].get(filename)
        if stored is None:
            self._error(404, "EntryNotFound", "Entry not found")
        return stored

    def _tree(self, rest: str) -> None:
        repo, _, _revision = rest.partition("/tree/")
        if repo not in self.hub.repos:
            return self._error(401, "RepoNotFound", "Repository not found")
        listing = []
        for name, stored in self.hub.repos[repo].items():
            entry = {
                "type": "file",
                "oid": git_blob_id(stored.data),
                "size": len(stored.data),
                "path": name,
            }
            if stored.lfs:
                entry["lfs"] = {
                    "oid": stored.sha256,
                    "size": len(stored.data),
                    "pointerSize": 134,
                }
            listing.append(entry)
        payload = json.dumps(listing).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _storage(self, sha: str, body: bool) -> None:
        stored = next(
            (f for files in self.hub.repos.values() for f in files.values() if f.sha256 == sha),
            None,
        )
        if stored is None:
            return self._error(404, None, "No such object")
        fault = self.hub.faults.plan.pop(0) if body and self.hub.faults.plan else ("", 0)
        if fault[0] == "down":
            return self._error(503, None, "Service unavailable")
        data = stored.data
        if fault[0] == "corrupt":
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        start = 0
        asked = self.headers.get("Range")
        if asked and asked.startswith("bytes=") and asked.endswith("-"):
            start = int(asked.removeprefix("bytes=").removesuffix("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{sha}"')
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if not body:
            return
        chunk = data[start:]
        if fault[0] == "cut":
            self.wfile.write(chunk[: fault[1]])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if self.hub.faults.slow:
            self.wfile.write(chunk[: 64 << 10])
            self.wfile.flush()
            time.sleep(self.hub.faults.slow)
            chunk = chunk[64 << 10 :]
        self.wfile.write(chunk)

    def _error(self, status: int, code: str | None, message: str) -> None:
        payload = json.dumps({"error": message}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
