#!/bin/sh
# Fill the wheelhouse every image installs from (pip --no-index): the pinned wheels of
# docker/requirements/*.txt for CPython 3.11 on manylinux x86_64, plus this project's own wheel.
# Run it where an index is reachable, then carry the folder to the air-gapped build host.
#
#   docker/wheelhouse.sh [WHEELHOUSE_DIR]        (make wheelhouse)
#
# Layout, which the Dockerfiles rely on (the folder is the build context of every image):
#   requirements/  copies of docker/requirements/*.txt
#   deps/          third-party wheels (changes only with the lock), incl. the build backend
#                  (build.txt) so the project wheel builds without an index
#   project/       exactly one kfp_quality_gates-<version>-py3-none-any.whl
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WHEELHOUSE=${1:-$ROOT/wheelhouse}
PYTHON=${PYTHON:-python3}
# The platform of the images: Debian bookworm (glibc 2.36), CPython 3.11, x86_64. pip does not
# widen an explicit --platform to older glibc tags, so every manylinux_2_5 .. 2_<GLIBC_MINOR>
# tag is named (the legacy manylinux1/2010/2014 names are aliases of 2_5/2_12/2_17).
GLIBC_MINOR=${GLIBC_MINOR:-36}
platforms=""
minor=5
while [ "$minor" -le "$GLIBC_MINOR" ]; do
    platforms="$platforms --platform manylinux_2_${minor}_x86_64"
    minor=$((minor + 1))
done
platforms="$platforms --platform manylinux1_x86_64 --platform manylinux2010_x86_64 --platform manylinux2014_x86_64"

mkdir -p "$WHEELHOUSE/requirements" "$WHEELHOUSE/deps" "$WHEELHOUSE/project"
rm -f "$WHEELHOUSE"/requirements/*.txt
cp "$ROOT"/docker/requirements/*.txt "$WHEELHOUSE/requirements/"

# One list of every pin (the per-image files overlap).
ALL=$(mktemp /tmp/qg-reqs.XXXXXX)
SRC=$(mktemp -d /tmp/qg-wheel.XXXXXX)
LOG=$(mktemp /tmp/qg-pip.XXXXXX)
trap 'rm -rf "$ALL" "$SRC" "$LOG" "$ALL.build"' EXIT INT TERM
# The operational gate's model server has its own venv with its own pins (mlserver needs an
# older fastapi than the core): downloaded in a second pass, into the same deps/ folder.
SERVER_PINS="$ROOT/docker/requirements/model-server.txt"
find "$ROOT"/docker/requirements -name '*.txt' ! -name model-server.txt -exec grep -h '==' {} + \
    | sort -u > "$ALL"
: > "$ALL.build"

download() {
    # --only-binary + explicit platform: the same wheels whatever machine prepares the
    # wheelhouse; --no-deps: the requirement files are already the full closure, pinned. A pin
    # published only as a source distribution (e.g. kfp-server-api) goes to the build list.
    tries=0
    # shellcheck disable=SC2086
    until "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
        $platforms --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
        --dest "$WHEELHOUSE/deps" -r "$ALL" >"$LOG" 2>&1; do
        missing=$(sed -n 's/.*No matching distribution found for \([^ ]*\).*/\1/p' "$LOG" | head -n 1)
        tries=$((tries + 1))
        if [ -z "$missing" ] || [ "$tries" -gt 30 ]; then
            grep -v 'is ignored: it is neither' "$LOG" >&2
            echo "wheelhouse.sh: pip download failed (above); check the index and docker/requirements" >&2
            exit 1
        fi
        grep -v -x -F "$missing" "$ALL" > "$ALL.tmp"; mv "$ALL.tmp" "$ALL"
        echo "$missing" >> "$ALL.build"
    done
    # Source-only pins become wheels here. They must come out pure Python ("none-any"), so the
    # platform of the machine preparing the wheelhouse cannot leak into the images.
    if [ -s "$ALL.build" ]; then
        echo "building wheels from source: $(tr '\n' ' ' < "$ALL.build")"
        "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WHEELHOUSE/deps" -r "$ALL.build" 2>"$LOG" \
            || { grep -v 'is ignored: it is neither' "$LOG" >&2; exit 1; }
        # shellcheck disable=SC2013  # one pin per line, never a space in it
        for pin in $(cat "$ALL.build"); do
            # Wheel file names spell the project name with underscores.
            name=$(echo "${pin%%==*}" | tr '.-' '__')
            if ! find "$WHEELHOUSE/deps" -iname "${name}-${pin#*==}-*-none-any.whl" | grep -q .; then
                echo "wheelhouse.sh: $pin built into a platform wheel; build it on bookworm x86_64" >&2
                exit 1
            fi
        done
    fi
}

# The pins did not change since the last complete download: the index is not contacted, so an
# air-gapped build host can rerun this (and `make images`) with the wheelhouse it was given.
LOCK_SHA=$(cat "$ROOT"/docker/requirements/*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$WHEELHOUSE/deps/.lock.sha256" 2>/dev/null)" = "$LOCK_SHA" ]; then
    echo "wheelhouse: pins unchanged since the last download; not contacting the index"
else
    download
    grep -h '==' "$SERVER_PINS" | sort -u > "$ALL"
    : > "$ALL.build"
    download
    echo "$LOCK_SHA" > "$WHEELHOUSE/deps/.lock.sha256"
fi

# The project wheel, built from a clean copy of the sources so that the checkout gets no build/
# or egg-info folders. SOURCE_DATE_EPOCH fixes the timestamps inside the wheel.
(cd "$ROOT" && tar -c --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' \
    pyproject.toml README.md shared components pipelines) | tar -x -C "$SRC"
rm -f "$WHEELHOUSE"/project/*.whl
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800} \
    "$PYTHON" -m pip wheel --quiet --no-deps --no-index --find-links "$WHEELHOUSE/deps" \
        --wheel-dir "$WHEELHOUSE/project" "$SRC"

count=$(find "$WHEELHOUSE/deps" -name '*.whl' | wc -l)
echo "wheelhouse: $WHEELHOUSE ($count dependency wheels, $(ls "$WHEELHOUSE/project"), $(du -sh "$WHEELHOUSE" | cut -f1))"
