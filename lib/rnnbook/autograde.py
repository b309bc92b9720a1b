"""nbgrader's autograde, hardened: a sandboxed kernel, points from a fresh process.

``rnnbook-course init`` writes a course's ``nbgrader_config.py`` with these preprocessors in
nbgrader's own lists (:func:`sanitize_preprocessors`, :func:`autograde_preprocessors`):

:class:`RestoreCells` (first, before nbgrader's sanitizing)
    rebuilds the submission on the released notebook: every cell the instructor wrote comes
    back as released (deleted, edited, retyped or duplicated cells too); only the solution
    cells keep the student's source; cells the student added stay, without nbgrader markup.
    No submission can then make nbgrader's own checks fail. An answer whose cell lost its
    metadata (an editor that drops it), or that was written in a new cell under an unchanged
    template, is found by the functions it defines.
:class:`SandboxedExecute` (in place of nbgrader's ``Execute``)
    runs the notebook for the feedback in a kernel of :class:`SandboxKernelManager` (the
    bubblewrap sandbox of :mod:`rnnbook.sandbox`), with a time limit per cell and for the
    whole notebook and a cap on the outputs. The test cells are not run there. A kernel that
    dies or hangs ends the run; the cells left get a note, and grading goes on. Meanwhile
    (on the other core) the checker of :class:`AwardPoints` is already at work.
:class:`AwardPoints` (right after it)
    writes each test cell's outputs from :mod:`rnnbook.checker`, a fresh process that calls
    the submitted functions in a sandbox: the verdict if it passed (full points), an error
    with the verdict if not (zero). nbgrader's ``SaveAutoGrades`` then records exactly that.

The limits are set in the course's config: :class:`SandboxLimits` for every sandboxed
process, ``SandboxedExecute.timeout`` / ``notebook_timeout`` (a cell, the notebook) and
``AwardPoints.cell_timeout`` / ``timeout`` (an answer cell, the whole check).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Any, Bool, Integer, Unicode
from traitlets.config import Configurable

from rnnbook import sandbox

__all__ = [
    "AwardPoints",
    "RestoreCells",
    "SandboxKernelManager",
    "SandboxLimits",
    "SandboxedExecute",
    "autograde_preprocessors",
    "sanitize_preprocessors",
]


class SandboxLimits(Configurable):
    """The :class:`rnnbook.sandbox.Limits` of a course (``c.SandboxLimits.memory_mb = ...``)."""

    memory_mb = Integer(4096, help="Address space of each sandboxed process, MiB.").tag(config=True)
    scratch_mb = Integer(256, help="Size of each writable tmpfs in the sandbox, MiB.").tag(
        config=True
    )
    file_mb = Integer(64, help="Largest file a sandboxed process may write, MiB.").tag(config=True)
    processes = Integer(256, help="Processes of the sandbox's user (RLIMIT_NPROC).").tag(
        config=True
    )

    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(self.memory_mb, self.scratch_mb, self.file_mb, self.processes)


def _limits(owner: Configurable) -> sandbox.Limits:
    return SandboxLimits(parent=owner).limits()


def _coursedir(owner: Any):
    """nbgrader's CourseDirectory of the converter that runs this preprocessor."""
    while owner is not None:
        if getattr(owner, "coursedir", None) is not None:
            return owner.coursedir
        owner = getattr(owner, "parent", None)
    raise RuntimeError("this preprocessor runs outside an nbgrader converter")


def _instructor_notebook(owner, resources, step: str) -> nbformat.NotebookNode | None:
    """The instructor's notebook of this submission: ``step`` "source" or "release"."""
    coursedir = _coursedir(owner)
    folder = getattr(coursedir, f"{step}_directory")
    info = resources["nbgrader"]
    path = Path(coursedir.format_path(folder, ".", info["assignment"]))
    path = path / f"{info['notebook']}.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


def _grade_id(cell) -> str | None:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return gid if isinstance(gid, str) else None


# ----------------------------------------------------------------------------------------------
# Sanitizing: the submission rebuilt on the released notebook
# ----------------------------------------------------------------------------------------------


class RestoreCells(NbGraderPreprocessor):
    """Rebuild a submission on the released notebook (see the module's docstring)."""

    def preprocess(self, nb, resources):
        release = _instructor_notebook(self, resources, "release")
        if release is None:
            self.log.warning("RestoreCells: no released notebook; the submission is kept as is")
            return nb, resources
        released = {_grade_id(c): c for c in release.cells if _grade_id(c)}
        order = [_grade_id(c) for c in release.cells if _grade_id(c)]
        cells, seen = [], set()
        for cell in nb.cells:
            gid = _grade_id(cell)
            if gid in released and gid not in seen:
                seen.add(gid)
                restored = copy.deepcopy(released[gid])
                if utils.is_solution(restored) and isinstance(cell.get("source"), str):
                    restored.source = cell.source
                cells.append(restored)
            elif cell.get("cell_type") in ("code", "markdown", "raw"):
                source = cell.get("source", "")
                kind = cell["cell_type"]
                new = {
                    "code": nbformat.v4.new_code_cell,
                    "markdown": nbformat.v4.new_markdown_cell,
                    "raw": nbformat.v4.new_raw_cell,
                }[kind](source if isinstance(source, str) else "")
                cells.append(new)
        lost = set()
        for k, gid in enumerate(order):  # cells the student deleted come back in place
            if gid in seen:
                continue
            before = [i for i, c in enumerate(cells) if _grade_id(c) in order[:k]]
            cells.insert(before[-1] + 1 if before else 0, copy.deepcopy(released[gid]))
            seen.add(gid)
            lost.add(gid)
            self.log.warning("RestoreCells: cell %s was missing and is restored", gid)
        self._adopt_answers(cells, released, lost)
        ids: set[str] = set()
        for cell in cells:
            if not isinstance(cell.get("id"), str) or cell["id"] in ids:
                cell["id"] = uuid.uuid4().hex[:8]
            ids.add(cell["id"])
        nb.cells = cells
        nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))
        return nb, resources

    def _adopt_answers(self, cells: list, released: dict, lost: set[str]) -> None:
        """An answer written outside its answer cell: an editor that dropped the cell's
        metadata (VS Code, a copy and paste), or a new cell under an unchanged template.
        A cell of the student's that defines every function of the template becomes the
        answer (the last such cell, below the answer cell unless that was lost)."""
        for cell in list(cells):
            gid = _grade_id(cell)
            if gid not in released or not utils.is_solution(cell):
                continue
            if gid not in lost and cell.source.strip() != released[gid].source.strip():
                continue  # answered where it should be
            wanted = _defines(released[gid].source)
            start = 0 if gid in lost else cells.index(cell) + 1
            found = [
                c
                for c in cells[start:]
                if c.cell_type == "code" and not _grade_id(c) and wanted <= _defines(c.source)
            ]
            if wanted and found:
                cell.source = found[-1].source
                cells.remove(found[-1])
                self.log.warning("RestoreCells: the answer of %s was in another cell", gid)


def _defines(source: str) -> set[str]:
    """The functions and classes a cell defines at its top level (even if it does not parse)."""
    return set(re.findall(r"^(?:async\s+def|def|class)\s+(\w+)", source, re.M))


# ----------------------------------------------------------------------------------------------
# Executing: a sandboxed kernel
# ----------------------------------------------------------------------------------------------


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox of :func:`rnnbook.sandbox.command`.

    The kernel is ``sys.executable -m ipykernel_launcher`` (the Python that runs the grader,
    whatever kernelspec the notebook names), with the files of :attr:`submission_dir` shown
    read-only in its working folder.
    """

    submission_dir = Unicode("", help="Host folder whose files the kernel sees.").tag(config=True)
    limits = Any(sandbox.Limits(), help="The rnnbook.sandbox.Limits of the kernel's processes.")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._folder = tempfile.mkdtemp(prefix="rnnbook-kernel-")
        self.connection_file = os.path.join(self._folder, "kernel.json")
        self.ip = sandbox.KERNEL_IP  # the kernel binds here, inside its own /tmp
        self._info: tuple[int, int] | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        if self._info is None:
            self._info = os.pipe()
        files, folder = {}, self.submission_dir
        if folder and os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                if not name.startswith(".") and not os.path.islink(path):
                    files[name] = path
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", sandbox.KERNEL_JSON]
        return sandbox.command(
            [*argv, *(extra_arguments or [])],
            limits=self.limits,
            files=files,
            ro_binds={self.connection_file: sandbox.KERNEL_JSON},
            info_fd=self._info[1],
        )

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        assert self._info is not None
        read_end, write_end = self._info
        kw.update(pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kw["cwd"] = self._folder
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            os.close(write_end)
        try:
            pid = sandbox.read_info(read_end, timeout=30)["child-pid"]
        finally:
            os.close(read_end)
            self._info = None
        self.ip = f"/proc/{int(pid)}/root{sandbox.KERNEL_IP}"  # the same sockets, from outside

    def cleanup_ipc_files(self) -> None:
        """Nothing to remove: the sockets lived in the sandbox's own /tmp."""

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        shutil.rmtree(self._folder, ignore_errors=True)


def _note(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stderr", text=f"[rnnbook grader] {text}\n")


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` with the kernel in the sandbox, and failures as notes.

    ``timeout`` limits one cell, ``notebook_timeout`` the whole notebook (seconds); the
    outputs of the notebook are cut at ``max_output_mb``. The test cells are left for
    :class:`AwardPoints`. A cell that runs out of time or kills the kernel gets a note saying
    so; the cells after it are not run and say why.
    """

    timeout = Integer(30, help="Seconds one cell may run.", allow_none=True).tag(config=True)
    notebook_timeout = Integer(120, help="Seconds the whole notebook may run.").tag(config=True)
    max_output_mb = Integer(2, help="MiB of outputs kept from one notebook.").tag(config=True)
    check_meanwhile = Bool(
        True, help="Start AwardPoints' checker while the notebook runs (it reads no outputs)."
    ).tag(config=True)

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(**kwargs)
        self.interrupt_on_timeout = False  # a cell out of time stops the run, at once
        self.shutdown_kernel = "immediate"
        self.store_widget_state = False
        self.startup_timeout = 60

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.submission_dir = str(self.resources.get("metadata", {}).get("path") or "")
        km.limits = _limits(self)
        return km

    def preprocess(self, nb, resources=None, km=None):
        self._cell_timeout = self.timeout
        self._deadline = time.monotonic() + self.notebook_timeout
        self._stopped = ""
        self._output_bytes, self._cut = 0, False
        if self.check_meanwhile and resources is not None:  # the points, on the other core
            try:
                checking = AwardPoints(parent=self.parent).start(nb, resources)
                resources.setdefault("rnnbook", {})["checking"] = checking
            except Exception as e:  # AwardPoints will try again, and say why
                self.log.warning("SandboxedExecute: could not start the checker: %s", e)
        start = time.monotonic()
        try:
            nb, resources = super().preprocess(nb, resources, km)
            self.log.info("SandboxedExecute: the notebook ran in %.1f s", time.monotonic() - start)
            return nb, resources
        except Exception as e:  # the kernel did not start, or died between cells
            self.log.error("SandboxedExecute: %s: %s", type(e).__name__, e)
            for cell in nb.cells:
                if cell.cell_type == "code" and not utils.is_grade(cell) and not cell.outputs:
                    cell.outputs = [_note(f"not run: the kernel failed ({type(e).__name__})")]
            return nb, resources
        finally:
            self.timeout = self._cell_timeout

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, self.resources
        if utils.is_grade(cell):  # graded by AwardPoints, in a fresh process
            cell.outputs, cell.execution_count = [], None
            return cell, self.resources
        if not self._stopped and time.monotonic() > self._deadline - 1:
            self._stopped = f"the notebook's time limit of {self.notebook_timeout} s was reached"
        if self._stopped:
            cell.outputs = [_note(f"not run: {self._stopped}")]
            return cell, self.resources
        left = self._deadline - time.monotonic()
        limit = left if self._cell_timeout is None else min(self._cell_timeout, left)
        self.timeout = max(1, int(limit))
        try:
            return super().preprocess_cell(cell, resources, index)
        except CellTimeoutError:
            cell.outputs.append(_note(f"this cell did not finish within {self.timeout} s"))
            self._stopped = "the kernel was stopped after a cell ran out of time"
        except DeadKernelError:
            mb = _limits(self).memory_mb
            cell.outputs.append(
                _note(
                    "the kernel died while running this cell (os._exit(), a crash, or more "
                    f"memory than the limit of {mb} MiB)"
                )
            )
            self._stopped = "the kernel had died"
        self.log.warning("SandboxedExecute: cell %d: %s", index, self._stopped)
        return cell, self.resources

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        self._output_bytes += size
        if self._output_bytes > self.max_output_mb * 2**20:
            if not self._cut:
                self._cut = True
                outs.append(
                    _note(f"outputs cut: the notebook printed more than {self.max_output_mb} MiB")
                )
            return None
        return super().output(outs, msg, display_id, cell_index)


# ----------------------------------------------------------------------------------------------
# Awarding the points: a fresh process
# ----------------------------------------------------------------------------------------------


def _failure(text: str) -> list[dict]:
    return [
        {"output_type": "error", "ename": "AssertionError", "evalue": text, "traceback": [text]}
    ]


class AwardPoints(NbGraderPreprocessor):
    """Write each test cell's outputs from :mod:`rnnbook.checker` (see the module's docstring)."""

    timeout = Integer(300, help="Seconds the checker may take for one notebook.").tag(config=True)
    cell_timeout = Integer(30, help="Seconds one solution cell may run in the checker.").tag(
        config=True
    )

    def job(self, nb, source) -> dict:
        """What :mod:`rnnbook.checker` needs: the instructor's code and the student's answers."""
        submitted = {_grade_id(c): c.source for c in nb.cells if utils.is_solution(c)}
        context, solutions, tests = [], [], []
        for cell in source.cells:
            if cell.cell_type != "code":
                continue
            gid = _grade_id(cell)
            if utils.is_solution(cell):
                answer = submitted.get(gid, "")
                solutions.append({"id": gid, "source": answer, "template": cell.source})
            elif utils.is_grade(cell):
                tests.append({"id": gid, "source": cell.source})
            else:
                context.append(cell.source)
        limits = _limits(self)
        return {
            "context": context,
            "solutions": solutions,
            "tests": tests,
            "limits": {k: getattr(limits, k) for k in limits.__dataclass_fields__},
            "cell_timeout": self.cell_timeout,
        }

    def start(self, nb, resources) -> _Checking:
        """Start the checker on this submission; :meth:`results` collects what it found."""
        source = _instructor_notebook(self, resources, "source")
        if source is None:
            raise RuntimeError("AwardPoints needs the assignment's source notebook")
        return _Checking(self.job(nb, source), self.timeout)

    def preprocess(self, nb, resources):
        checking = resources.get("rnnbook", {}).pop("checking", None) or self.start(nb, resources)
        results = checking.results(self.log)
        passed = sum(bool(r.get("passed")) for r in results.values() if isinstance(r, dict))
        self.log.info(
            "AwardPoints: %d of %d test cells passed (%.1f s)",
            passed,
            len(checking.job["tests"]),
            checking.seconds,
        )
        for cell in nb.cells:
            if cell.cell_type != "code" or not utils.is_grade(cell):
                continue
            result = results.get(_grade_id(cell))
            outputs = (
                result["outputs"]
                if isinstance(result, dict)
                else _failure("The grader could not check this cell; ask your instructor.")
            )
            cell.outputs = [nbformat.from_dict(o) for o in outputs]
            cell.execution_count = None
        return nb, resources


class _Checking:
    """A running ``python -m rnnbook.checker`` on one job."""

    def __init__(self, job: dict, timeout: float) -> None:
        self.job, self.timeout, self.seconds = job, timeout, 0.0
        self._folder = tempfile.mkdtemp(prefix="rnnbook-check-")
        self._start = time.monotonic()
        path = os.path.join(self._folder, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        with open(path) as f:  # the checker reads its job at once, and starts
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "rnnbook.checker"],
                stdin=f,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=self._folder,
                start_new_session=True,
            )

    def results(self, log) -> dict:
        """test cell id -> {"passed", "outputs"}; {} if the checker failed (logged)."""
        try:
            left = max(1.0, self.timeout - (time.monotonic() - self._start))
            out, err = self._proc.communicate(timeout=left)
            lines = out.strip().splitlines()
            if not lines:
                log.error("AwardPoints: the checker failed:\n%s", err[-3000:])
            results = json.loads(lines[-1])["tests"] if lines else {}
            return results if isinstance(results, dict) else {}
        except Exception as e:  # a failure here is a note in the feedback, never a crash
            log.error("AwardPoints: the checker failed: %s: %s", type(e).__name__, e)
            with contextlib.suppress(Exception):
                self._proc.kill()
                self._proc.wait(timeout=10)
            return {}
        finally:
            self.seconds = time.monotonic() - self._start
            shutil.rmtree(self._folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# nbgrader's lists, with these in place
# ----------------------------------------------------------------------------------------------


def sanitize_preprocessors() -> list:
    """nbgrader's ``Autograde.sanitize_preprocessors`` with :class:`RestoreCells` first."""
    from nbgrader.converters import Autograde

    return [RestoreCells, *Autograde.class_traits()["sanitize_preprocessors"].default()]


def autograde_preprocessors() -> list:
    """nbgrader's ``Autograde.autograde_preprocessors``, ``Execute`` replaced by
    :class:`SandboxedExecute` followed by :class:`AwardPoints`."""
    from nbgrader.converters import Autograde

    out = []
    for pp in Autograde.class_traits()["autograde_preprocessors"].default():
        out += [SandboxedExecute, AwardPoints] if pp is Execute else [pp]
    if SandboxedExecute not in out:
        raise RuntimeError("nbgrader's autograde preprocessors have no Execute to replace")
    return out
