"""trail: log params, metrics, tags and files of a run into trail, from Python.

A thin layer over the C SDK (libtrail.so.0) through ctypes. Under `trail run` the program
joins the launcher's run; otherwise start_run() (or the first logging call) starts a run whose
records wait in the spool until `trail agent` or `trail sync` delivers them.

    import trail
    with trail.start_run(name="baseline", params={"lr": 0.1}) as run:
        for epoch in range(3):
            trail.log_metric("loss", 1.0 / (epoch + 1), step=epoch)

Names follow MLflow's. Errors raise trail.TrailError with the SDK's message; with
TRAIL_DISABLE=1 every call does nothing.
"""
import os
import sys
import threading
import traceback as _tb

from . import _lib

__all__ = [
    "TrailError", "Run", "start_run", "end_run", "active_run", "log_param", "log_params",
    "log_metric", "log_metrics", "set_tag", "set_tags", "log_input", "log_output", "flush",
]
__version__ = "0.1.0"

_STATUS = {"finished": 0, "failed": 1, "killed": 2}
_EDISABLED = -9
_EVALUE = -15
_ENOTFOUND = -12
_VALUE_MAX = 6000  # TRAIL_VALUE_MAX: a traceback keeps its last this many bytes


class TrailError(Exception):
    """A call of the SDK failed: code is the TRAIL_E* value, name its name ("TRAIL_EPARAM")."""

    def __init__(self, code, message, name=None):
        super().__init__(message)
        self.code = code
        self.name = name or "TRAIL_E%d" % -code
        self.message = message

    def __str__(self):
        return "%s (%s)" % (self.message, self.name)


_lock = threading.Lock()
_libref = None
_log_c = None  # _libref.trail_log_metric, once loaded: one global read on the hot path
_load_error = None


def _c():
    global _libref, _log_c, _load_error
    if _libref is None:
        with _lock:
            if _libref is None and _load_error is None:
                try:
                    lib = _lib.load()
                    _log_c = lib.trail_log_metric
                    _libref = lib
                except OSError as e:
                    _load_error = str(e)
    if _libref is None:
        raise TrailError(_ENOTFOUND, _load_error, "TRAIL_ENOTFOUND")
    return _libref


def _check(rc):
    if rc >= 0 or rc == _EDISABLED:
        return rc
    lib = _c()
    detail = lib.trail_last_error() if hasattr(lib, "trail_last_error") else None
    msg = (detail or lib.trail_strerror(rc) or b"").decode("utf-8", "replace")
    raise TrailError(rc, msg, lib.trail_err_name(rc).decode())


def _b(s):
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return str(s).encode("utf-8", "surrogateescape")


def _key(k):
    if not isinstance(k, (str, bytes)):
        raise TrailError(-14, "invalid key %r: a key is a string" % (k,), "TRAIL_EKEY")
    return _b(k)


class Run:
    """The active run: id (32 hex characters), name and experiment when start_run gave them.
    As a context manager it ends the run when the block ends: `finished`, or `failed` when an
    exception escapes (its type and traceback are kept as the tags trail.exception and
    trail.traceback; KeyboardInterrupt ends it `killed`)."""

    def __init__(self, run_id, name=None, experiment=None):
        self.id = run_id
        self.name = name
        self.experiment = experiment

    @property
    def run_id(self):
        return self.id

    def __repr__(self):
        return "<trail.Run id=%s name=%r>" % (self.id, self.name)

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is None:
            end_run("finished")
            return False
        try:
            text = "".join(_tb.format_exception(etype, exc, tb))
            raw = text.encode("utf-8", "replace")
            if len(raw) > _VALUE_MAX:  # the end of a traceback says where it failed
                raw = raw[-_VALUE_MAX:]
            head = ("%s: %s" % (etype.__name__, exc)).encode("utf-8", "replace")[:_VALUE_MAX]
            set_tag("trail.exception", head)
            set_tag("trail.traceback", raw)
        finally:
            end_run("killed" if issubclass(etype, KeyboardInterrupt) else "failed")
        return False

    # the module's functions, for `with trail.start_run() as run: run.log_metric(...)`
    def log_param(self, key, value):
        log_param(key, value)

    def log_params(self, params):
        log_params(params)

    def log_metric(self, key, value, step=None):
        log_metric(key, value, step)

    def log_metrics(self, metrics, step=None):
        log_metrics(metrics, step)

    def set_tag(self, key, value):
        set_tag(key, value)

    def set_tags(self, tags):
        set_tags(tags)


_active = None  # the Run start_run returned, until end_run
_implicit = False  # a logging call started (or joined) a run without start_run
_steps = {}  # key -> last step, for log_metric(step=None)
_keys = {}  # str key -> its bytes, so a hot loop encodes each key once


def _joined():
    return bool(os.environ.get("TRAIL_RUN_ID")) and not os.environ.get("TRAIL_DISABLE") == "1"


def start_run(name=None, experiment=None, params=None, tags=None):
    """Starts a run (under `trail run`: joins the launcher's run and names it unless the
    command line did) and logs params and tags. Returns the Run, a context manager."""
    global _active
    lib = _c()
    _check(lib.trail_start_run(_b(experiment), _b(name)))
    rid = lib.trail_run_id()
    _active = Run(rid.decode() if rid else None, name, experiment)
    if params:
        log_params(params)
    if tags:
        set_tags(tags)
    return _active


def end_run(status="finished"):
    """Ends the active run: status "finished", "failed" or "killed" (or 0, 1, 2). Under
    `trail run` the launcher keeps the final status; the program's is the tag
    trail.sdk_end_status."""
    global _active, _implicit
    if isinstance(status, str):
        if status.lower() not in _STATUS:
            raise TrailError(-1, "status %r: one of finished, failed, killed" % status,
                             "TRAIL_EINVAL")
        code = _STATUS[status.lower()]
    else:
        code = int(status)
    _check(_c().trail_end_run(code))
    _active = None
    _implicit = False
    _steps.clear()


def active_run():
    """The active Run (id, name), or None when there is none. Under `trail run` it is the
    launcher's run."""
    if _active is not None:
        return _active
    if _joined() or _implicit:
        rid = _c().trail_run_id()
        if rid:
            return Run(rid.decode(), os.environ.get("TRAIL_RUN_NAME") or None)
    return None


def _logged():
    global _implicit
    if _active is None:
        _implicit = True


def log_param(key, value):
    """Logs a param (immutable: the same value again is fine; another raises TrailError with
    code TRAIL_EPARAM)."""
    _check(_c().trail_log_param(_key(key), _b(value)))
    _logged()


def log_params(params):
    for k, v in dict(params).items():
        log_param(k, v)


def log_metric(key, value, step=None):
    """Logs one point. step None: the key's previous step + 1 (0 for its first point)."""
    kb = _keys.get(key)
    if kb is None:
        kb = _keys[key] = _key(key)
    if value.__class__ is float:  # the usual case: no conversion
        v = value
    else:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise TrailError(_EVALUE, "metric %r: value %r is not a number" % (key, value),
                             "TRAIL_EVALUE") from None
    if step is None:
        step = _steps.get(key, -1) + 1
    elif step.__class__ is not int:
        step = int(step)
    _steps[key] = step
    f = _log_c
    if f is None:
        f = _c().trail_log_metric
    rc = f(kb, v, step)
    if rc:
        _check(rc)
    if _active is None:
        _logged()


def log_metrics(metrics, step=None):
    for k, v in dict(metrics).items():
        log_metric(k, v, step)


def set_tag(key, value):
    _check(_c().trail_set_tag(_key(key), _b(value)))
    _logged()


def set_tags(tags):
    for k, v in dict(tags).items():
        set_tag(k, v)


def log_input(path):
    """Declares a file the run read (relative paths use the cwd); it must exist."""
    _check(_c().trail_log_input(_b(os.fspath(path))))
    _logged()


def log_output(path):
    """Declares a file the run wrote."""
    _check(_c().trail_log_output(_b(os.fspath(path))))
    _logged()


def flush():
    """Makes every record logged so far visible to readers."""
    _check(_c().trail_flush())
