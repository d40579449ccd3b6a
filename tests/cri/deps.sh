#!/bin/sh
# Installs what tests/cri needs (Debian 12), as root: containerd (with its
# CRI plugin) + ctr, runc (for comparison), the CNI plugins, busybox-static
# (image contents), util-linux (script and nsenter), iproute2 (ip netns),
# and crictl, built with `go install` into a cache that the tests look in.
# Idempotent; prints nothing when everything is there.
set -eu
need=""
command -v containerd >/dev/null 2>&1 || need="$need containerd"
command -v ctr >/dev/null 2>&1 || need="$need containerd"
[ -x /usr/sbin/runc ] || need="$need runc"
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] ||
	need="$need containernetworking-plugins"
[ -x /bin/busybox ] || need="$need busybox-static"
command -v script >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || need="$need util-linux"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
if [ -n "$need" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $need
fi

# crictl: the version is the one the tests were written against; the
# directory must match crictlPath in tests/cri/harness_test.go.
CRICTL_VERSION=v1.37.0
dir=${TABOX_CRICTL_DIR:-/var/cache/tabox-tests/crictl-$CRICTL_VERSION}
if [ ! -x "$dir/crictl" ]; then
	PATH=$PATH:/usr/local/go/bin
	mkdir -p "$dir"
	# Build outside the repository: crictl is not a dependency of tabox.
	(cd / && GOBIN="$dir" go install "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION")
fi
exit 0
