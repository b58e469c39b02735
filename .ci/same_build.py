"""Check that two `sam build` outputs are the same bytes, as `sam deploy` would upload them.

Run: `.venv-sam/bin/python .ci/same_build.py BUILD_DIR OTHER_BUILD_DIR` (.ci/run builds a
second time, uncached, into another directory, then runs this).

For every artifact (each function's and the layer's directory) it compares every entry's
path, mode, modification time and bytes; then it zips each artifact the way `sam package`
does (SAM's own zip function: it runs in .venv-sam) and compares the zips' MD5, which names
the S3 object the deployed template points to. Equal MD5s: a deploy with no change
publishes no new layer version and updates no function.
"""

from __future__ import annotations

import hashlib
import stat
import sys
import tempfile
from pathlib import Path

from samcli.lib.package.utils import make_zip_with_lambda_permissions  # type: ignore[import-not-found]


def entries(artifact: Path) -> dict[str, tuple[str, int, str]]:
    found = {}
    for path in sorted(artifact.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[path.relative_to(artifact).as_posix()] = (
            stat.filemode(info.st_mode),
            int(info.st_mtime),
            digest,
        )
    return found


def zip_md5(artifact: Path) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        zipped = make_zip_with_lambda_permissions(str(Path(scratch) / "artifact"), str(artifact))
        return hashlib.md5(Path(zipped).read_bytes(), usedforsecurity=False).hexdigest()


def main(first: Path, second: Path) -> int:
    artifacts = sorted(path.name for path in first.iterdir() if path.is_dir())
    if artifacts != sorted(path.name for path in second.iterdir() if path.is_dir()):
        print(f"different artifacts: {artifacts}", file=sys.stderr)
        return 1
    if not artifacts:
        print(f"no artifacts in {first}", file=sys.stderr)
        return 1
    failed = False
    for name in artifacts:
        one, other = entries(first / name), entries(second / name)
        differing = sorted(
            path for path in one.keys() | other.keys() if one.get(path) != other.get(path)
        )
        md5 = zip_md5(first / name), zip_md5(second / name)
        same = not differing and md5[0] == md5[1]
        failed |= not same
        print(f"{name}: {len(one)} entries, zip MD5 {md5[0]}" + ("" if same else f" vs {md5[1]}"))
        for path in differing[:20]:
            print(f"  differs: {path} {one.get(path)} vs {other.get(path)}", file=sys.stderr)
    print("the two builds are the same bytes" if not failed else "the two builds differ")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
