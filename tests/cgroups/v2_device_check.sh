#!/bin/sh
# Run the cgroup v2 driver's tests for real on a pure cgroup v2 machine, as root.
#
#   tests/cgroups/v2_device_check.sh [pytest args...]
#
# Needs a Python with pytest: $PYTHON, /opt/pyrunc/bin/python or python3 if it has
# pytest; otherwise PYRUNC_WHEELS=<dir> holding wheels of pytest and its dependencies
# (iniconfig, packaging, pluggy) for a throwaway venv, as such machines have no registry.
# Each test makes its cgroups under /sys/fs/cgroup/pyrunc-test-<random> and removes them.
set -eu
cd "$(dirname "$0")/../.."

fstype=$(stat -f -c %T /sys/fs/cgroup)
if [ "$fstype" != cgroup2fs ]; then
    echo "v2_device_check: /sys/fs/cgroup is $fstype, not a pure cgroup v2 mount" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "v2_device_check: must run as root" >&2
    exit 2
fi
echo "controllers at the root: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "enabled for children:    $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "this process:            $(cat /proc/self/cgroup)"

PY=
for c in "${PYTHON:-}" /opt/pyrunc/bin/python python3; do
    if [ -n "$c" ] && "$c" -c "import pytest" 2>/dev/null; then
        PY=$c
        break
    fi
done
if [ -z "$PY" ] && [ -n "${PYRUNC_WHEELS:-}" ]; then
    venv=$(mktemp -d /tmp/pyrunc-v2-venv.XXXXXX)
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --no-index --find-links "$PYRUNC_WHEELS" pytest
    PY=$venv/bin/python
fi
if [ -z "$PY" ]; then
    echo "v2_device_check: no python with pytest; set PYTHON or PYRUNC_WHEELS" >&2
    exit 2
fi

# -rs lists every skip with its reason: on this machine none of test_v2_real.py
# should be skipped.
status=0
"$PY" -m pytest -p no:cacheprovider -q -rs \
    tests/cgroups/test_v2_real.py tests/cgroups/test_v2_tree.py \
    tests/cgroups/test_devices.py tests/cgroups/test_paths.py tests/cgroups/test_update.py "$@" || status=$?
leftover=$(find /sys/fs/cgroup -maxdepth 1 -name 'pyrunc-test-*' | head -n 5)
if [ -n "$leftover" ]; then
    echo "v2_device_check: cgroups left behind: $leftover" >&2
    exit 1
fi
exit $status
