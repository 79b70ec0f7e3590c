"""Finding and binding libtrail.so.0 (the C SDK) with ctypes."""
import ctypes
import os

_NAME = "libtrail.so.0"


def _candidates():
    env = os.environ.get("TRAIL_LIB")
    if env:
        yield os.path.join(env, _NAME) if os.path.isdir(env) else env
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, _NAME)  # a copy bundled next to the package
    try:  # written by `cmake --install`: where the library went, relative to here
        from ._paths import LIBDIR_REL

        yield os.path.normpath(os.path.join(here, LIBDIR_REL, _NAME))
    except ImportError:
        pass
    yield _NAME  # the normal loader: LD_LIBRARY_PATH (set by `trail run`), ld.so.cache


def load():
    """The bound library, or raises OSError naming every place tried."""
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        _bind(lib, path)
        return lib
    raise OSError("cannot load %s (set TRAIL_LIB); tried: %s" % (_NAME, "; ".join(tried)))


def _bind(lib, path):
    c_int, c_char_p, c_double, c_int64 = ctypes.c_int, ctypes.c_char_p, ctypes.c_double, ctypes.c_int64
    sig = {
        "trail_start_run": (c_int, [c_char_p, c_char_p]),
        "trail_end_run": (c_int, [c_int]),
        "trail_log_param": (c_int, [c_char_p, c_char_p]),
        "trail_log_metric": (c_int, [c_char_p, c_double, c_int64]),
        "trail_set_tag": (c_int, [c_char_p, c_char_p]),
        "trail_log_input": (c_int, [c_char_p]),
        "trail_log_output": (c_int, [c_char_p]),
        "trail_flush": (c_int, []),
        "trail_run_id": (c_char_p, []),
        "trail_strerror": (c_char_p, [c_int]),
        "trail_err_name": (c_char_p, [c_int]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    # The metric call takes about 100 ns and never waits (a full segment's successor is made in
    # a few ms at most): it keeps the GIL (PyDLL), which saves releasing and taking it again,
    # about a fifth of the call from Python. Every other call may wait on the file system
    # (stat, a new run's directory) and releases it (CDLL).
    try:
        f = ctypes.PyDLL(path).trail_log_metric
        f.restype, f.argtypes = c_int, [c_char_p, c_double, c_int64]
        lib.trail_log_metric = f
    except (OSError, AttributeError):
        pass
    # newer libraries name the detail of a failure; older ones only have trail_strerror
    f = getattr(lib, "trail_last_error", None)
    if f is not None:
        f.restype, f.argtypes = c_char_p, []
