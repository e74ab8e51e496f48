"""Record the repo digest of each pushed image, so that compiling pins images by digest.

`make push` runs ``python3 docker/digests.py record <registry/name:tag>`` after each
``docker push``: the engine's ``RepoDigests`` entry for that repository (the digest the registry
returned) is written into ``docker/digests.json`` (or ``$QUALITY_GATES_IMAGE_DIGESTS``) under the
tag reference. ``image_for()`` in shared/contracts/versions.py then returns
``registry/name@sha256:...`` for that registry and tag, and ``quality-gates compile`` writes it
into the component YAMLs. A tag can be moved to other bytes; a digest cannot.

    python3 docker/digests.py record ghcr.io/kfp-quality-gates/quality-gates-core:0.1.0
    python3 docker/digests.py show                      # check the file, print its entries
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from component_list import versions  # noqa: E402


def repo_digest(image: str, docker: str = "docker") -> str:
    """Return the pushed image's digest reference in the image's own repository.

    Args:
        image: The tag reference that was pushed, ``registry/name:tag``.
        docker: The docker client to ask.

    Returns:
        ``registry/name@sha256:<64 hex>``.

    Raises:
        SystemExit: When the engine knows no digest of the image in that repository (it was
            not pushed there).
    """
    proc = subprocess.run(
        [docker, "image", "inspect", "--format", "{{json .RepoDigests}}", image],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"digests.py: docker image inspect {image}: {proc.stderr.strip()}")
    repo = image.rsplit(":", 1)[0]
    # An image pushed to several registries has one digest per repository: take this one's.
    found = [d for d in json.loads(proc.stdout or "[]") or [] if d.split("@", 1)[0] == repo]
    if not found:
        raise SystemExit(f"digests.py: {image} has no repo digest in {repo}; push it first")
    return found[0]


def record(image: str, digest: str, path: Path) -> None:
    """Write ``image → digest`` into the digests file, keeping its other entries.

    Args:
        image: The tag reference.
        digest: Its repo digest reference.
        path: The digests file (created when missing).

    Raises:
        ImageDigestError: When the file or the new entry is malformed.
    """
    entries = versions.read_digests(path)
    entries[image] = digest
    tmp_dir = path.parent
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=tmp_dir, delete=False, suffix=".tmp") as out:
        json.dump(dict(sorted(entries.items())), out, indent=2)
        out.write("\n")
    try:
        versions.read_digests(Path(out.name))  # never leave a file image_for() would refuse
        os.replace(out.name, path)
    finally:
        Path(out.name).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """``record IMAGE`` or ``show``.

    Args:
        argv: Arguments without the program name.

    Returns:
        0 on success, 2 for a malformed digests file.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the repo digest of a pushed image")
    rec.add_argument("image", help="the pushed tag reference, registry/name:tag")
    rec.add_argument("--docker", default=os.environ.get("DOCKER", "docker"))
    sub.add_parser("show", help="check the digests file and print its entries")
    args = parser.parse_args(argv)
    path = versions.digests_file()
    try:
        if args.command == "record":
            digest = repo_digest(args.image, args.docker)
            record(args.image, digest, path)
            print(f"{args.image} -> {digest} ({path})")
        else:
            for image, digest in versions.read_digests(path).items():
                print(image, digest)
    except versions.ImageDigestError as exc:
        print(f"digests.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
