"""A local MNIST mirror, as a reader's machine meets MNIST: gzip files over http on 127.0.0.1.

    python tools/mnist_mirror.py RAW FOLDER

gzips the IDX files (*-ubyte) of RAW (a folder such as ../shared/data/MNIST/raw) into FOLDER, serves
FOLDER on a free port of 127.0.0.1, prints the base URL (for AAE_MNIST_MIRROR) as its first line
and serves until it is stopped. CI uses it to run `make test` the way a newcomer does.
"""
from __future__ import annotations

import functools
import gzip
import http.server
import sys
from pathlib import Path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # one line per request would drown the test output
        pass


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    raw, folder = Path(sys.argv[1]), Path(sys.argv[2])
    files = sorted(raw.glob("*-ubyte"))
    if not files:
        print(f"mnist_mirror: {raw} holds no IDX file (*-ubyte)", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        (folder / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0))
    handler = functools.partial(QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
