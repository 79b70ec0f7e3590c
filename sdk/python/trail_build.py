"""A PEP 517 build backend for the `trail` package using only the standard library, so that
`pip install sdk/python` works offline (no setuptools or wheel to fetch into pip's isolated
build environment). It packs trail/*.py into a pure-Python wheel."""
import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = "trail"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "py3-none-any"
DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)


def _metadata():
    return (
        "Metadata-Version: 2.1\n"
        "Name: %s\n"
        "Version: %s\n"
        "Summary: Log params, metrics, tags and files of ML runs into trail\n"
        "Requires-Python: >=3.9\n" % (NAME, VERSION)
    )


def _sources():
    pkg = os.path.join(HERE, NAME)
    for f in sorted(os.listdir(pkg)):
        if f.endswith(".py"):
            yield "%s/%s" % (NAME, f), os.path.join(pkg, f)


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d\n" % (name, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write(_metadata())
    return DIST_INFO


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def _wheel(wheel_directory, files):
    name = "%s-%s-%s.whl" % (NAME, VERSION, TAG)
    wheel = "Wheel-Version: 1.0\nGenerator: trail_build\nRoot-Is-Purelib: true\nTag: %s\n" % TAG
    files = list(files) + [
        ("%s/METADATA" % DIST_INFO, _metadata().encode()),
        ("%s/WHEEL" % DIST_INFO, wheel.encode()),
    ]
    record = "".join(_record_line(n, d) for n, d in files) + "%s/RECORD,,\n" % DIST_INFO
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files + [("%s/RECORD" % DIST_INFO, record.encode())]:
            info = zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            z.writestr(info, d)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for arc, path in _sources():
        with open(path, "rb") as f:
            files.append((arc, f.read()))
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # a .pth file puts this directory on sys.path: edits take effect without reinstalling
    return _wheel(wheel_directory, [("%s_editable.pth" % NAME, (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for arc, path in list(_sources()) + [
            ("pyproject.toml", os.path.join(HERE, "pyproject.toml")),
            ("trail_build.py", os.path.join(HERE, "trail_build.py")),
        ]:
            t.add(path, arcname="%s/%s" % (base, arc))
        meta = ("PKG-INFO", _metadata().encode())
        info = tarfile.TarInfo("%s/%s" % (base, meta[0]))
        info.size = len(meta[1])
        t.addfile(info, io.BytesIO(meta[1]))
    return name
