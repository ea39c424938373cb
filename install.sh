#!/bin/sh
# Install pyrunc on a Debian or Ubuntu machine, as root.
#   ./install.sh          the runtime, its launchers, and the hello bundle's rootfs
#   ./install.sh --test   also everything the test suite drives (reference runtimes, engines, tools)
set -eu
cd "$(dirname "$0")"
PREFIX=${PREFIX:-/opt/pyrunc}
BIN=${BIN:-/usr/local/bin}
test_deps=false
[ "${1:-}" = "--test" ] && test_deps=true

pkgs="python3 python3-venv python3-pip busybox-static libseccomp2"
if $test_deps; then
  # reference runtimes and tools the tests compare against or drive
  pkgs="$pkgs runc crun umoci skopeo docker-registry containerd docker.io podman conmon \
        gcc libc6-dev libseccomp-dev zstd strace iproute2 debootstrap"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x "$PREFIX/bin/python3" ] || python3 -m venv "$PREFIX"
extra=""
$test_deps && extra="[test]"
"$PREFIX/bin/pip" install -q --disable-pip-version-check ".$extra"

# Launchers: -I -S keeps site-packages processing and the environment out of
# start-up; the package directory is named explicitly instead.
site=$("$PREFIX/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
launcher() {  # NAME PYTHON-LINES
  printf '#!%s/bin/python3 -IS\nimport sys\nsys.path.append("%s")\n%s\n' "$PREFIX" "$site" "$2" > "$BIN/$1"
  chmod 755 "$BIN/$1"
}
# pyrunc leaves through run_and_exit: no interpreter finalization (5-10 ms a call).
launcher pyrunc "from pyrunc import boot
boot.install()
from pyrunc.cli import run_and_exit
run_and_exit()"
launcher pyrunc-unpack "from pyrunc.image.cli import main
sys.exit(main())"

# One file of compiled modules per copy of the package (pyrunc.boot): the
# installed one, and the tree's for bin/pyrunc (the interpreter of its #! line).
# -X no_debug_ranges: no column tables in the code (9% less to load).
"$PREFIX/bin/python3" -I -X no_debug_ranges -m pyrunc.boot >/dev/null
(cd bin/pkg && /usr/bin/python3 -S -E -X no_debug_ranges -m pyrunc.boot >/dev/null)

# The hello bundle's root filesystem, from the distribution's static busybox.
[ -x bundles/hello/rootfs/bin/busybox ] || bundles/make-rootfs bundles/hello
