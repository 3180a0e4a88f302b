"""The HTML report opens in a real browser (issue 6 item 5), and so does report.zip (issue 16).

Runs the tiny grid end to end in a temporary folder, builds ``snakemake --report report.html`` and
``--report report.zip`` (results as files beside the page; checked to hold every result the
workflow marks for the report, byte for byte, and every file the page links to), and opens each in
headless Chromium, driven through chromedriver's W3C WebDriver HTTP API (plain
``urllib``: no extra dependency). In the report's single-page viewer it opens the ablation table
and the side-by-side video the way the "eye" button does, and checks that the table's rows are
there and that the embedded H.264 video decodes (``videoWidth > 0``).

Needs the Debian packages ``chromium`` and ``chromium-driver``
(``apt-get install -y chromium chromium-driver``); skips with that reason when they are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from workflow_helpers import private_copy

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"

CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1280,900",
]

pytestmark = pytest.mark.slow


def _find(*names: str) -> str | None:
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


@pytest.fixture(scope="module")
def browser_tools() -> tuple[str, str]:
    chrome = _find("chromium", "chromium-browser", "google-chrome")
    driver = _find("chromedriver")
    if not chrome or not driver:
        pytest.skip(f"headless Chromium not installed (needs chromium and chromedriver: {INSTALL})")
    return chrome, driver


class WebDriver:
    """The few W3C WebDriver commands the test needs, over HTTP to a local chromedriver."""

    def __init__(self, chrome: str, driver: str, user_data: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError("chromedriver did not start")
                time.sleep(0.2)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chrome, "args": [*CHROME_FLAGS, f"--user-data-dir={user_data}"]},
        }}}
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.proc.kill()
            raise

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 120) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read() or b"{}").get("value") or {}
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"WebDriver {method} {path}: {exc.read().decode()[:500]}") from None

    def cmd(self, method: str, path: str, body: dict | None = None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    def run(self, script: str, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def run_async(self, script: str, *args):
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def frame(self, element: dict | None) -> None:
        self.cmd("POST", "/frame", {"id": element})

    def quit(self) -> None:
        try:
            self.cmd("DELETE", "")
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def snakemake(*args: str, workdir: Path, timeout: float = 900, base_config: bool = True) -> str:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    config = ["--configfile", str(REPO / "config" / "tiny.yaml")] if base_config else []
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *config, *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{out[-4000:]}"
    return out


@pytest.fixture(scope="module")
def pipeline(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny grid (4 frames at 40 px, 2 variants) run to completion: a private copy of conftest's
    session-wide run, since the reports are written into it."""
    return private_copy(tiny_run, tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="module")
def report(pipeline: Path) -> Path:
    snakemake("--report", "results/report.html", workdir=pipeline, timeout=300)
    path = pipeline / "results" / "report.html"
    assert path.is_file() and path.stat().st_size > 0
    return path


@pytest.fixture(scope="module")
def report_zip(pipeline: Path) -> Path:
    """``--report results/report.zip``, extracted; returns the extracted report.html."""
    snakemake("--report", "results/report.zip", workdir=pipeline, timeout=300)
    path = pipeline / "results" / "report.zip"
    assert zipfile.is_zipfile(path), f"{path} is not a zip file"
    out = pipeline / "report-zip"
    with zipfile.ZipFile(path) as z:
        z.extractall(out)
    return out / "report" / "report.html"


#: Every output the tiny grid marks with report(): (glob under results/, how many files).
REPORTED = {
    "ablation.csv": 1,
    "ablation.html": 1,
    "runs/demo/swirls/h40/tiny/*/run.json": 2,
    "runs/demo/swirls/h40/tiny/*/video.mp4": 2,
    "plots/demo/swirls/h40/*.png": 3,
    "sidebyside/demo/swirls/h40/tiny.html": 1,
    "prep/demo/h40/*-dis.mp4": 2,
}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_report_zip_holds_every_result_and_every_linked_file(pipeline: Path, report_zip: Path) -> None:
    root = report_zip.parent  # the zip's report/ folder
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    assert "report.html" in files, sorted(files)
    in_zip = {}
    for rel, p in files.items():
        in_zip.setdefault(_digest(p.read_bytes()), []).append(rel)
    for pattern, count in REPORTED.items():
        found = sorted((pipeline / "results").glob(pattern))
        assert len(found) == count, f"results/{pattern}: {len(found)} files, expected {count}"
        for f in found:
            copies = in_zip.get(_digest(f.read_bytes()), [])
            assert any(Path(c).name == f.name for c in copies), f"{f.relative_to(pipeline)} is not in report.zip"
    # every data file the page links to is in the zip (relative to the page)
    html = report_zip.read_text(encoding="utf-8")
    linked = set(re.findall(r"(data/raw/[^\"'\\]+)", html))
    assert linked, "report.html links no data file"
    missing = sorted(x for x in linked if x not in files)
    assert not missing, f"report.html links files that report.zip lacks: {missing[:5]}"


def test_pipeline_ablation_has_one_row_per_run(pipeline: Path) -> None:
    import pandas as pd

    df = pd.read_csv(pipeline / "results" / "ablation.csv")
    key = ["video", "style", "resolution", "iterations", "variant"]
    assert sorted(df.variant) == ["flowInit_temporalLoss", "noInit"] and not df.duplicated(subset=key).any()
    for col in ("frames", "warp_error", "content_loss", "style_loss", "seconds_per_frame", "backbone", "flow_method"):
        assert df[col].notna().all(), col
    assert (df.frames == 4).all() and (df.flow_method == "dis").all() and (df.warp_error > 0).all()
    for variant in df.variant:
        run = pipeline / "results" / "runs" / "demo" / "swirls" / "h40" / "tiny" / variant
        rows = (run / "metrics.csv").read_text().splitlines()
        assert len(rows) == 5 and rows[0].startswith("frame,warp_error")
    md = (pipeline / "results" / "ablation.md").read_text()
    assert "## demo / swirls / 40 px" in md and md.count("**") >= 8
    for name in ("warp_error", "tradeoff", "seconds"):
        for ext in ("png", "svg"):
            assert (pipeline / "results" / "plots" / "demo" / "swirls" / "h40" / f"{name}.{ext}").stat().st_size > 0


def test_adding_a_variant_scores_only_the_new_run(pipeline: Path, tmp_path: Path) -> None:
    overlay = tmp_path / "more.yaml"
    overlay.write_text("variants:\n  noFlowInit_temporalLoss: {}\n")
    out = snakemake("-n", "--configfile", str(REPO / "config" / "tiny.yaml"), str(overlay), workdir=pipeline,
                    timeout=120, base_config=False)
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}
    assert {"ablation", "plots", "sidebyside"} <= set(counts), counts
    assert not {"frames", "flow", "consistency"} & set(counts), counts
    # metrics are computed for the new run, and for no run that is not itself re-made (a run whose
    # settings changed since the pipeline ran, e.g. a styleflow upgrade, legitimately is)
    scored, remade = scheduled_variants(out, "metrics"), scheduled_variants(out, "sequence")
    assert "noFlowInit_temporalLoss" in scored and scored == remade, (scored, remade)


def scheduled_variants(output: str, rule: str) -> set[str]:
    found = set()
    for block in re.split(r"\n(?=rule \w+:)", output):
        if block.startswith(f"rule {rule}:"):
            m = re.search(r"variant=([\w-]+)", block)
            if m:
                found.add(m.group(1))
    return found


# In the page: the report's global `results` (path → entry) and `app` (the viewer); open one
# result the way its "eye" button does.
SHOW = """
const suffix = arguments[0];
const key = Object.keys(results).find(k => k.endsWith(suffix));
if (!key) { return null; }
app.setView({content: "html", contentPath: results[key].data_uri, resultPath: key});
return key;
"""

WAIT_IFRAME = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function poll() {
  const f = document.querySelector("iframe");
  if (f) { done(f); } else if (Date.now() - t0 > 20000) { done(null); } else { setTimeout(poll, 100); }
})();
"""

TABLE_ROWS = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function poll() {
  const rows = [...document.querySelectorAll("table.ablation tbody tr")].map(
      tr => [...tr.querySelectorAll("td")].map(td => td.textContent));
  const heads = [...document.querySelectorAll("table.ablation th")].map(th => th.textContent);
  if (rows.length || Date.now() - t0 > 20000) { done({rows: rows, heads: heads}); } else { setTimeout(poll, 100); }
})();
"""

VIDEO_STATE = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function poll() {
  const v = document.querySelector("video");
  const ready = v && v.readyState >= 2 && v.videoWidth > 0;
  if (ready || Date.now() - t0 > 30000) {
    done(v ? {width: v.videoWidth, height: v.videoHeight, ready: v.readyState, error: v.error && v.error.code,
              duration: v.duration} : null);
  } else { setTimeout(poll, 200); }
})();
"""


@pytest.mark.parametrize("kind", ["report", "report_zip"])
def test_report_opens_in_chromium_with_table_and_playing_video(kind: str, request, browser_tools) -> None:
    chrome, driver = browser_tools
    report = request.getfixturevalue(kind)  # report.html, or report.html extracted from report.zip
    with tempfile.TemporaryDirectory(prefix="styleflow-chromium-") as profile:
        wd = WebDriver(chrome, driver, Path(profile))
        try:
            wd.cmd("POST", "/timeouts", {"script": 60000, "pageLoad": 120000})
            wd.get(report.as_uri())
            assert wd.run("return typeof results === 'object' && typeof app === 'object';"), \
                "the report's viewer did not start"
            assert "Comparison" in wd.run("return Object.keys(categories);")
            keys = wd.run("return Object.keys(results);")
            assert any(k.endswith("results/ablation.html") for k in keys), keys
            assert any(k.endswith(".html") and "sidebyside" in k for k in keys), keys

            # the ablation table: one row per run of the tiny grid (2 variants)
            assert wd.run(SHOW, "results/ablation.html")
            frame = wd.run_async(WAIT_IFRAME)
            assert frame, "the ablation table did not open in the viewer"
            wd.frame(frame)
            table = wd.run_async(TABLE_ROWS)
            wd.frame(None)
            assert "warping error ↓" in table["heads"], table
            assert sorted(r[1] for r in table["rows"]) == ["flowInit_temporalLoss", "noInit"], table

            # the side-by-side video decodes in the browser
            assert wd.run(SHOW, "results/sidebyside/demo/swirls/h40/tiny.html")
            frame = wd.run_async(WAIT_IFRAME)
            assert frame, "the side-by-side page did not open in the viewer"
            wd.frame(frame)
            state = wd.run_async(VIDEO_STATE)
            wd.frame(None)
            assert state is not None, "no <video> in the side-by-side page"
            assert state["width"] > 0 and state["height"] > 0, f"the embedded video does not decode: {state}"
        finally:
            wd.quit()
