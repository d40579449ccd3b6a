#!/usr/bin/env bash
# Runs the security suite (tests/security) against another runtime, by
# default Debian's runc 1.1.5 at /usr/sbin/runc, and prints which attacks it
# falls to, with the evidence the tests reported. Not part of CI.
#
#   bash tests/security/runc-compare.sh [RUNTIME]
#
# Run as root. A test can also fail for a reason other than the attack
# (the evidence lines say which): read them before drawing conclusions.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
rt=${1:-/usr/sbin/runc}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "runtime: $rt ($("$rt" --version 2>/dev/null | head -1))"
TABOX_TEST_RUNTIME=$rt go test -count=1 -v ./tests/security/ >"$log" 2>&1

attacks=(
	"Test01ExeOverwrite|CVE-2019-5736: overwrite the runtime through /proc/<pid>/exe"
	"Test02CwdFdLeak|CVE-2024-21626: process.cwd=/proc/self/fd/N, leaked fds"
	"Test03ProcAndMountSymlinks|CVE-2019-19921/2023-27561/2023-28642: /proc and mount destinations as symlinks"
	"Test04MountRace|CVE-2021-30465: mount destination parent swapped for a symlink during create"
	"Test05MkdirAllSymlink|CVE-2024-45310: mkdir-all through a symlink to the host"
	"Test06MaskedDevNull|CVE-2025-31133: /dev/null -> core_pattern with maskedPaths"
	"Test07ConsolePtsSymlink|CVE-2025-52565: /dev/pts/0 and /dev/console as symlinks, terminal: true"
	"Test08SysctlOverProcSys|CVE-2025-52881: mounts over /proc/sys and /proc/self/attr with sysctls"
	"Test09DevSymlink|CVE-2026-41579 class: /dev as a symlink to a host directory"
	"Test10PreserveFdsMissing|--preserve-fds 3 with no fds passed"
	"Test11InitPtrace|CVE-2016-9962: ptrace / fds of the init from a container sharing its PID namespace"
	"Test12InheritableCaps|CVE-2022-29162: inheritable capabilities with the default spec"
	"Test13RootlessCgroupWritable|CVE-2023-25809: rootless, no cgroupns: /sys/fs/cgroup writable"
	"Test14ResourceExhaustion|fork bomb and memory hog under limits, cleaned by delete --force"
)

falls=()
for a in "${attacks[@]}"; do
	t=${a%%|*} desc=${a#*|}
	status=$(grep -E "^--- (PASS|FAIL|SKIP): $t " "$log" | awk '{print $2}' | tr -d :)
	case $status in
	PASS) echo "resists  $desc" ;;
	SKIP) echo "skipped  $desc" ;;
	FAIL)
		echo "FALLS    $desc"
		falls+=("${t:4:2}")
		# The evidence: the test's lines that name an attack or a host change.
		awk -v t="$t" '$0 ~ "^=== RUN   "t"($|/)" {on=1} on && /ATTACK WORKED|HOST CHANGED/ {sub(/^ +/, ""); print "           " $0} $0 ~ "^--- (PASS|FAIL|SKIP): "t" " {on=0}' "$log" | cut -c1-220 | head -5
		;;
	*) echo "no result $desc" ;;
	esac
done
echo "$(basename "$rt") falls to: ${falls[*]:-none}"
grep -E "^security: " "$log" | tail -1
