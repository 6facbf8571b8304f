/**
 * The `sitecustomize.py` the load recorder puts first on an app's PYTHONPATH (see README.md). It
 * records the file of every module the process loads into `python-loaded.txt`, beside the folder
 * holding it: what is already loaded when it starts, each import as the path finder finds it (so a
 * SIGKILL loses nothing), and whatever else `sys.modules` holds at exit or on SIGTERM. A
 * `sitecustomize` it shadows still runs, and every failure of its own is swallowed.
 */
export const SITECUSTOMIZE_PY = String.raw`"""Waybill's load recorder: appends the file of every module this process loads to
python-loaded.txt, one folder up from this file. It never raises into the app."""
import atexit
import os
import signal
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_RECORD = os.path.join(os.path.dirname(_HERE), "python-loaded.txt")
_recorded = set()
_writable = [True]


def _record(paths):
    if not _writable[0]:
        return
    try:
        fresh = [path for path in paths if isinstance(path, str) and path not in _recorded]
        if not fresh:
            return
        lines = "".join(os.path.abspath(path) + "\n" for path in fresh)
        with open(_RECORD, "a", encoding="utf-8", errors="surrogateescape") as out:
            out.write(lines)
        _recorded.update(fresh)
    except Exception:
        _writable[0] = False


def _module_file(module):
    # The instance dict rather than getattr: a lazy module or a module-level __getattr__
    # must not run on our account
    namespace = object.__getattribute__(module, "__dict__")
    path = namespace.get("__file__")
    if path is None:
        # Python deletes __main__.__file__ once the script has run; its loader still knows
        loader = namespace.get("__loader__")
        if type(loader).__module__ == "_frozen_importlib_external":
            path = getattr(loader, "path", None)
    return path


def _record_loaded_modules():
    files = []
    for module in list(sys.modules.values()):
        try:
            files.append(_module_file(module))
        except Exception:
            pass
    _record(files)


def _path_finder():
    for finder in sys.meta_path:
        if isinstance(finder, type) and finder.__name__ == "PathFinder":
            return finder
    return None


def _record_imports(path_finder):
    find_spec = path_finder.find_spec

    def recording_find_spec(cls, fullname, path=None, target=None):
        spec = find_spec(fullname, path, target)
        try:
            if spec is not None and spec.has_location:
                _record((spec.origin,))
        except Exception:
            pass
        return spec

    path_finder.find_spec = classmethod(recording_find_spec)


def _record_on_sigterm():
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL and not callable(previous):
        # Ignored, or handled outside Python: not ours to change
        return

    def on_sigterm(signum, frame):
        _record_loaded_modules()
        if callable(previous):
            return previous(signum, frame)
        # What the default would have done: the process ends by the signal
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def _shadowed_sitecustomize(path_finder):
    try:
        others = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]
        spec = path_finder.find_spec("sitecustomize", others)
    except Exception:
        return None
    return spec if spec is not None and spec.loader is not None else None


_record_loaded_modules()
_PATH_FINDER = _path_finder()
try:
    if _PATH_FINDER is not None:
        _record_imports(_PATH_FINDER)
    _record_on_sigterm()
    atexit.register(_record_loaded_modules)
except Exception:
    pass

_SHADOWED = None if _PATH_FINDER is None else _shadowed_sitecustomize(_PATH_FINDER)
if _SHADOWED is not None:
    import importlib.util

    _module = importlib.util.module_from_spec(_SHADOWED)
    # The import system takes whatever sys.modules holds once this file has run, and the
    # shadowed file's own errors reach site.py as they would have without us
    sys.modules["sitecustomize"] = _module
    _SHADOWED.loader.exec_module(_module)
`;
