#!/usr/bin/env bash
# Builds tabox, makes a demo bundle from Debian's busybox-static and runs
# a container from it.  Usage: scripts/demo.sh [command …]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
bash scripts/deps.sh
bash scripts/build.sh
bundle=$(mktemp -d /tmp/tabox-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev" "$bundle/rootfs/tmp" "$bundle/rootfs/etc"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$bundle/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bundle/rootfs/etc/passwd"
echo 'root:x:0:' > "$bundle/rootfs/etc/group"
./tabox spec --bundle "$bundle"
if [ $# -eq 0 ]; then
	cat > "$bundle/rootfs/demo.sh" <<'SH'
echo "Hello from a tabox container: hostname $(hostname), pid $$, uid $(id -u)"
echo "Its root:"; ls /
echo "Its capabilities:"; grep Cap /proc/self/status
SH
else
	{ printf 'exec'; printf ' %q' "$@"; echo; } > "$bundle/rootfs/demo.sh"
fi
# The default config asks for a terminal; the demo runs without one.
sed -i -e 's/"terminal": true/"terminal": false/' -e 's|"sh"$|"sh", "/demo.sh"|' "$bundle/config.json"
./tabox run --bundle "$bundle" "demo-$$"
