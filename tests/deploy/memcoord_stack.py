"""The daemon on a simulated scenario and a real Prometheus scraping it, both on
loopback, for the deploy tests and the dashboard preview.

Every wait is bounded; both processes are killed on exit (also on an
exception or SIGTERM from CTest's timeout), and their logs are printed when a
check fails.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
        return 0, ""


def wait_for(what, predicate, timeout_s, step_s=0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise Failure(f"timed out after {timeout_s:.0f} s waiting for {what}")


_children = []
_scratch_dirs = []


def _kill_children(*_):
    for proc in _children:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _on_signal(signum, _frame):
    sys.exit(128 + signum)  # atexit cleans up


def _cleanup():
    _kill_children()
    for path in _scratch_dirs:
        shutil.rmtree(path, ignore_errors=True)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


class Process:
    def __init__(self, name, argv, workdir):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _children.append(self.proc)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, lines=30):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


class Daemon(Process):
    """memory_coordinator --connect sim:SCENARIO on 127.0.0.1:<free port>."""

    def __init__(self, binary, scenario, workdir, policy="seed", interval_s=1,
                 start_timeout_s=15):
        for attempt in range(3):
            self.port = free_port()
            self.instance = f"127.0.0.1:{self.port}"
            super().__init__("memory_coordinator", [
                binary, "--connect", "sim:" + scenario, "--interval",
                str(interval_s), "--listen", self.instance, "--policy", policy,
                "--log-level", "info"], workdir)
            try:
                wait_for("the daemon's /metrics",
                         lambda: not self.alive() or
                         http_get(self.url("/metrics"))[0] == 200,
                         start_timeout_s)
            except Failure:
                raise Failure("daemon did not serve /metrics:\n" + self.log_tail())
            if self.alive():
                return
            # Another process took the port between free_port() and bind().
            self._log.close()
        raise Failure("daemon exited at start:\n" + self.log_tail())

    def url(self, path):
        return f"http://{self.instance}{path}"

    def scrape(self):
        status, body = http_get(self.url("/metrics"))
        if status != 200:
            raise Failure(f"GET /metrics answered {status}")
        return body


def sample_names(exposition):
    """Names of the samples in a text exposition (histograms give their
    _bucket, _sum and _count names)."""
    names = set()
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        end = len(line)
        for sep in ("{", " "):
            i = line.find(sep)
            if i != -1:
                end = min(end, i)
        names.add(line[:end])
    return names


class Prometheus(Process):
    """A real Prometheus on loopback scraping `targets` every second."""

    def __init__(self, binary, targets, workdir, rule_files=(),
                 job="memory_coordinator", start_timeout_s=60):
        self.workdir = workdir
        config_path = os.path.join(workdir, "prometheus.yml")
        rules = []
        for path in rule_files:
            dst = os.path.join(workdir, os.path.basename(path))
            shutil.copy(path, dst)
            rules.append(os.path.basename(dst))
        with open(config_path, "w") as f:
            # JSON is YAML: no third-party writer needed.
            json.dump({
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                           "evaluation_interval": "1s"},
                "rule_files": rules,
                "scrape_configs": [{"job_name": job, "static_configs": [
                    {"targets": list(targets)}]}],
            }, f, indent=2)
        for attempt in range(3):
            self.port = free_port()
            super().__init__("prometheus", [
                binary, "--config.file=" + config_path,
                "--storage.tsdb.path=" + os.path.join(workdir, "tsdb"),
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn"], workdir)
            try:
                wait_for("Prometheus to be ready",
                         lambda: not self.alive() or
                         http_get(self.url("/-/ready"))[0] == 200,
                         start_timeout_s)
            except Failure:
                raise Failure("Prometheus did not get ready:\n" + self.log_tail())
            if self.alive():
                return
            self._log.close()
        raise Failure("Prometheus exited at start:\n" + self.log_tail())

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def api(self, path, **params):
        query = urllib.parse.urlencode(params, doseq=True)
        status, body = http_get(self.url(f"/api/v1/{path}?{query}"), timeout=10)
        if status == 0:
            raise Failure(f"Prometheus did not answer /api/v1/{path}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise Failure(f"/api/v1/{path}: not JSON ({status}): {body[:200]}")
        if doc.get("status") != "success":
            raise Failure(f"/api/v1/{path}?{query}: {doc.get('errorType')}: "
                          f"{doc.get('error')}")
        return doc["data"]

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)

    def query_range(self, expr, start, end, step):
        return self.api("query_range", query=expr, start=f"{start:.3f}",
                        end=f"{end:.3f}", step=str(step))

    def wait_for_samples(self, metric, count, timeout_s):
        """Waits until `metric` has at least `count` samples in Prometheus."""
        window = f"{max(count * 2, 30)}s"

        def enough():
            data = self.query(f"count_over_time({metric}[{window}])")
            return any(float(r["value"][1]) >= count for r in data["result"])
        wait_for(f"{count} samples of {metric} in Prometheus", enough, timeout_s,
                 step_s=1)


def scratch_dir(prefix):
    """A directory removed at exit, after the processes are stopped."""
    path = tempfile.mkdtemp(prefix=prefix)
    _scratch_dirs.append(path)
    return path
