#!/bin/sh
# Installs what tests/tooling needs (Debian 12): containerd + ctr, podman + conmon,
# busybox-static (image contents), util-linux (script, for ptys). Idempotent.
set -eu
need=""
command -v containerd >/dev/null 2>&1 || need="$need containerd"
command -v ctr >/dev/null 2>&1 || need="$need containerd"
command -v podman >/dev/null 2>&1 || need="$need podman"
[ -x /usr/bin/conmon ] || [ -x /usr/libexec/podman/conmon ] || need="$need conmon"
[ -x /bin/busybox ] || need="$need busybox-static"
command -v script >/dev/null 2>&1 || need="$need util-linux"
[ -x /usr/sbin/runc ] || need="$need runc"
if [ -n "$need" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# --no-install-recommends: no slirp/netavark/etc. beyond podman's hard deps
	apt-get install -y -qq --no-install-recommends $need
fi
# Never leave a system containerd running from the package's postinst (no systemd here anyway).
exit 0
