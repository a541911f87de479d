"""A live four-validator testnet on loopback for the client's tests.

As cli/tests/it/common/mod.rs and testnet/start.sh do: `curia testnet init --validators 4` into a
temporary folder, shorter consensus timeouts, four `curia node run` processes, then wait (with a
deadline) until every node answers `/healthz`. `stop()` terminates exactly the processes it
started (SIGTERM, then SIGKILL after a deadline) and removes the folder, and is safe to call
twice; it is also registered with `atexit` in case a test run is interrupted. If the nodes do not
start, the tail of their logs is printed before the folder goes; `CURIA_KEEP_TEST_DIRS=1` keeps
the folder instead (as for the Rust tests' folders).

The `curia` binary: `$CURIA_BIN`, else `target/debug/curia` under the target directory
`cargo metadata` reports (which honours CARGO_TARGET_DIR). clients/python/run.sh builds it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[3]
NAMES = ["court-a", "court-b", "notary", "timesvc"]


def curia_bin() -> Path:
    """Path of the `curia` binary (see the module docs)."""
    env = os.environ.get("CURIA_BIN")
    if env:
        p = Path(env)
    else:
        out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                             capture_output=True, check=True, timeout=120)
        p = Path(json.loads(out.stdout)["target_directory"]) / "debug" / "curia"
    if not p.is_file():
        raise RuntimeError(f"the curia binary {p} does not exist: run `cargo build -p curia-cli` "
                           "(clients/python/run.sh does) or set CURIA_BIN")
    return p


def _ports_free(base: int) -> bool:
    for off in (0, 1000, 2000):
        for i in range(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", base + off + i))
            except OSError:
                return False
            finally:
                s.close()
    return True


def _pick_base() -> int:
    # Below the ephemeral range (32768+) and apart from the Rust harness's 20000-29xxx ports.
    for k in range(50):
        base = 10000 + ((os.getpid() + 7 * k) % 400) * 15
        if _ports_free(base):
            return base
    raise RuntimeError("no free block of loopback ports for the testnet")


def wait_until(cond, what: str, within: float, every: float = 0.2):
    """Poll `cond()` until it returns a true value, or fail after `within` seconds."""
    deadline = time.monotonic() + within
    last_exc: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # the condition may fail until the service is up
            last_exc = e
        time.sleep(every)
    raise TimeoutError(f"{what} not reached within {within} s (last error: {last_exc})")


class Testnet:
    """Four validators on loopback; `dir` holds genesis.json and clients/{platform,judge,...}.key."""

    def __init__(self) -> None:
        self.curia = curia_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="curia-pyclient-"))
        self.base = _pick_base()
        self.procs: list[subprocess.Popen] = []
        self._stopped = False
        atexit.register(self.stop)

    @property
    def genesis(self) -> Path:
        """The chain's genesis file."""
        return self.dir / "genesis.json"

    def key(self, client: str) -> Path:
        """A genesis client's key file (platform, judge, auditor, registrar)."""
        return self.dir / "clients" / f"{client}.key"

    def api(self, i: int = 0) -> str:
        """Node `i`'s API base URL."""
        return f"http://127.0.0.1:{self.base + 1000 + i}"

    def start(self) -> "Testnet":
        """Write the testnet, start the nodes and wait until all answer /healthz."""
        try:
            subprocess.run([str(self.curia), "testnet", "init", "--validators", "4", "--base-port", str(self.base),
                            "--out", str(self.dir), "--force"], check=True, capture_output=True, timeout=60)
            for n in NAMES:
                p = self.dir / n / "node.toml"
                t = p.read_text()
                t = (t.replace("propose_ms = 3000", "propose_ms = 1000").replace("delta_ms = 500", "delta_ms = 250")
                     .replace("empty_block_ms = 1000", "empty_block_ms = 500"))
                p.write_text(t)
            for n in NAMES:
                log = open(self.dir / n / "node.log", "ab")
                try:
                    self.procs.append(subprocess.Popen(
                        [str(self.curia), "node", "run", "--config", str(self.dir / n / "node.toml")],
                        stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL))
                finally:
                    log.close()
            for i in range(4):
                url = f"http://127.0.0.1:{self.base + 2000 + i}/healthz"
                wait_until(lambda: urllib.request.urlopen(url, timeout=2).status == 200, f"node {i} healthy", 60)
            return self
        except BaseException:
            keep = os.environ.get("CURIA_KEEP_TEST_DIRS") == "1"
            if not keep:
                print(f"testnet did not start; node logs:\n{self.logs()}", file=sys.stderr)
            self.stop(keep_dir=keep)
            raise

    def logs(self) -> str:
        """The tail of every node's log (for failure messages)."""
        out = []
        for n in NAMES:
            try:
                out.append(f"--- {n}\n" + (self.dir / n / "node.log").read_text(errors="replace")[-2000:])
            except OSError:
                pass
        return "\n".join(out)

    def stop(self, keep_dir: bool = False) -> None:
        """Stop the nodes this object started; remove the folder unless `keep_dir`."""
        if self._stopped:
            return
        self._stopped = True
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 15
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if keep_dir:
            print(f"testnet folder kept for inspection: {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
