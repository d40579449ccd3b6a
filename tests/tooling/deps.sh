#!/bin/sh
# Installs what tests/tooling needs (Debian 12): containerd + ctr, podman + conmon,
# the Docker engine (docker.io: dockerd and its client), busybox-static (image
# contents), util-linux (script, for ptys). Idempotent.
set -eu
need=""
command -v containerd >/dev/null 2>&1 || need="$need containerd"
command -v ctr >/dev/null 2>&1 || need="$need containerd"
command -v podman >/dev/null 2>&1 || need="$need podman"
[ -x /usr/bin/conmon ] || [ -x /usr/libexec/podman/conmon ] || need="$need conmon"
# The paths the tests use: another docker client may come first in PATH.
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need="$need docker.io"
[ -x /bin/busybox ] || need="$need busybox-static"
command -v script >/dev/null 2>&1 || need="$need util-linux"
[ -x /usr/sbin/runc ] || need="$need runc"
if [ -n "$need" ]; then
	export DEBIAN_FRONTEND=noninteractive
	# Never start a system containerd or dockerd from a package's postinst:
	# the tests run private ones. policy-rc.d's 101 makes invoke-rc.d skip
	# the start (there is no systemd here anyway).
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get update -qq
	# --no-install-recommends: no slirp/netavark/etc. beyond podman's hard
	# deps, no apparmor or cgroupfs-mount for docker.io.
	apt-get install -y -qq --no-install-recommends $need
fi
exit 0
