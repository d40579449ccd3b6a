#!/usr/bin/env bash
# Installs what building and testing tabox needs on Debian, as root.
set -euo pipefail
need=()
for pkg in gcc libc6-dev musl-tools libseccomp-dev busybox-static uidmap iproute2 pkg-config; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		echo "add /usr/local/go/bin to PATH" >&2
	else
		echo "Go is not installed: install Go 1.26 or newer" >&2
	fi
	exit 1
fi
