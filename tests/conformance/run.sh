#!/usr/bin/env bash
# Run the OCI runtime-tools (v0.9.0) validation suite against a runtime.
#
#   tests/conformance/run.sh [RUNTIME] [PROGRAM...]
#
# RUNTIME defaults to the `tabox` binary at the repository root. PROGRAMs
# (validation program names such as `create` or `linux_cgroups_pids`) restrict
# the run to those programs. See README.md for how results are counted.
#
# Environment:
#   CONFORMANCE_TIMEOUT    per-program timeout in seconds (default 120)
#   CONFORMANCE_BUILD_DIR  where binaries are built/cached (default .build here)
#   CONFORMANCE_LOG_DIR    where per-program logs go (default: a new temp dir)
#   CONFORMANCE_KNOWN_FAILURES  known-failures file (default known-failures.txt here)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TIMEOUT=${CONFORMANCE_TIMEOUT:-120}
BUILD_DIR=${CONFORMANCE_BUILD_DIR:-$HERE/.build}
KNOWN_FAILURES=${CONFORMANCE_KNOWN_FAILURES:-$HERE/known-failures.txt}
RT_MODULE=github.com/opencontainers/runtime-tools

die() { echo "conformance: $*" >&2; exit 2; }

runtime_arg=${1:-$HERE/../../tabox}
shift || true
only=("$@")

[ "$(id -u)" = 0 ] || die "must run as root (the suite creates containers)"
[ -x "$runtime_arg" ] && [ -f "$runtime_arg" ] ||
	die "runtime binary '$runtime_arg' not found or not executable (build it first, or pass its path as \$1)"
RUNTIME=$(realpath "$runtime_arg")

GO=$(command -v go || true)
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || die "go toolchain not found (PATH or /usr/local/go/bin/go)"

# One run at a time: programs use fixed cgroup paths such as /cgrouptest.
mkdir -p "$BUILD_DIR" || die "cannot create $BUILD_DIR"
exec 9>"$BUILD_DIR/.lock"
flock -n 9 || die "another conformance run holds $BUILD_DIR/.lock"

# ---------------------------------------------------------------- build ---
BIN=$BUILD_DIR/bin
build() {
	export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
	cd "$HERE" || return 1
	local stamp
	stamp=$({
		"$GO" version
		declare -f build
		cat go.mod go.sum tools.go subreaper/main.go
	} | sha256sum | cut -d' ' -f1) || return 1
	if [ -f "$BIN/.stamp" ] && [ "$(cat "$BIN/.stamp")" = "$stamp" ]; then
		return 0
	fi
	echo "conformance: building runtimetest and validation programs into $BIN" >&2
	rm -rf "$BIN" && mkdir -p "$BIN/validation" || return 1
	local pkgs moddir
	pkgs=$("$GO" list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' "$RT_MODULE/validation/...") || return 1
	[ -n "$pkgs" ] || { echo "no validation programs found" >&2; return 1; }
	# shellcheck disable=SC2086
	"$GO" build -o "$BIN/validation/" $pkgs || return 1
	# runtimetest runs inside the busybox rootfs: it must be static
	# (CGO_ENABLED=0). Since Go 1.19 every Go program raises its own soft
	# RLIMIT_NOFILE to the hard limit (minus one) at startup, so a runtimetest
	# built with a current toolchain can never see the soft limit the runtime
	# set (process_rlimits would fail for every runtime). Build it with that
	# init() of package syscall turned off through an -overlay.
	local goroot overlay=()
	goroot=$("$GO" env GOROOT) || return 1
	mkdir -p "$BIN/overlay"
	if sed 's|^func init() {$|func init() {\n\treturn // tabox conformance: keep the RLIMIT_NOFILE the runtime set|' \
		"$goroot/src/syscall/rlimit.go" >"$BIN/overlay/rlimit.go" 2>/dev/null &&
		grep -q 'tabox conformance' "$BIN/overlay/rlimit.go"; then
		printf '{"Replace":{"%s":"%s"}}\n' "$goroot/src/syscall/rlimit.go" "$BIN/overlay/rlimit.go" >"$BIN/overlay/overlay.json"
		overlay=(-overlay "$BIN/overlay/overlay.json")
	else
		echo "conformance: warning: cannot patch syscall/rlimit.go; process_rlimits will see a raised RLIMIT_NOFILE" >&2
	fi
	"$GO" build "${overlay[@]}" -o "$BIN/runtimetest" "$RT_MODULE/cmd/runtimetest" || return 1
	"$GO" build -o "$BIN/subreaper" ./subreaper || return 1
	moddir=$("$GO" list -m -f '{{.Dir}}' "$RT_MODULE") || return 1
	cp "$moddir/rootfs-amd64.tar.gz" "$BIN/" && chmod 644 "$BIN/rootfs-amd64.tar.gz" || return 1
	echo "$stamp" >"$BIN/.stamp"
}
(build) || die "build failed"

# bash leaves orphans behind (a `$(cmd <(...))` process substitution outlives
# cmd) and PID 1 may never reap them: run the rest of this script under the
# subreaper too.
if [ -z "${CONFORMANCE_UNDER_SUBREAPER:-}" ]; then
	exec 9>&-
	export CONFORMANCE_UNDER_SUBREAPER=1
	exec "$BIN/subreaper" -- bash "${BASH_SOURCE[0]}" "$RUNTIME" "${only[@]}"
fi

mapfile -t programs < <(cd "$BIN/validation" && ls | sort)
if [ ${#only[@]} -gt 0 ]; then
	for p in "${only[@]}"; do
		[ -x "$BIN/validation/$p" ] || die "no validation program named '$p'"
	done
	programs=("${only[@]}")
fi

# ---------------------------------------------------------------- setup ---
LOG_DIR=${CONFORMANCE_LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tabox-conformance-logs.XXXXXX")}
mkdir -p "$LOG_DIR" || die "cannot create $LOG_DIR"
LOG_DIR=$(realpath "$LOG_DIR")
# The programs expect runtimetest and rootfs-<arch>.tar.gz in their cwd, and
# create bundles with ioutil.TempDir: point TMPDIR into WORK so that whatever
# they leave behind is ours to remove.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tabox-conformance-work.XXXXXX") || die "mktemp failed"
WORK=$(realpath "$WORK")
# Containers with user namespaces must be able to reach their bundle: keep
# the path world-traversable (mktemp -d makes 0700 directories).
mkdir -p "$WORK/tmp" && chmod 755 "$WORK" && chmod 1777 "$WORK/tmp"
cp "$BIN/runtimetest" "$BIN/rootfs-amd64.tar.gz" "$WORK/" || die "cannot populate $WORK"

cgroup_dirs() { find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort; }
mount_points() { awk '{print $5}' /proc/self/mountinfo | sort -u; }

cgroups_before=$(cgroup_dirs)
mounts_before=$(mount_points)
cgroups_seen=$cgroups_before
mounts_seen=$mounts_before
list_ok=0
"$RUNTIME" list -q >/dev/null 2>&1 && list_ok=1
leaks=0

uuid_re='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

# cleanup_after LOGFILE: remove what the last program left behind and note it
# in its log. Only what the run created is touched: containers whose bundle is
# under WORK (`RUNTIME delete --force`), mounts under WORK, and new cgroups
# named like the suite's containers (UUIDs) or its fixed test paths
# (cgrouptest, testdir). Other new mounts/cgroups (other users of the machine)
# are only mentioned in the log.
cleanup_after() {
	local log=$1 c d m bundle removed=() notes=() now
	if [ $list_ok = 1 ]; then
		for c in $("$RUNTIME" list -q 2>/dev/null); do
			bundle=$("$RUNTIME" state "$c" 2>/dev/null | sed -n 's/.*"bundle": *"\([^"]*\)".*/\1/p' | head -n 1)
			case $bundle in
			"$WORK"/*)
				removed+=("leftover container $c (bundle $bundle)")
				"$RUNTIME" delete --force "$c" >/dev/null 2>&1 ||
					removed+=("  could not delete container $c")
				;;
			esac
		done
	fi
	now=$(mount_points)
	for m in $(comm -13 <(echo "$mounts_before") <(echo "$now") | sort -r); do
		case $m in
		"$WORK"/*)
			removed+=("leftover mount $m")
			umount -l "$m" 2>/dev/null || removed+=("  could not unmount $m")
			;;
		esac
	done
	for m in $(comm -13 <(echo "$mounts_seen") <(echo "$now")); do
		case $m in "$WORK"/*) ;; *) notes+=("new mount, not ours (not touched): $m") ;; esac
	done
	mounts_seen=$(mount_points)
	now=$(cgroup_dirs)
	# Deepest first so parents are empty when we get to them.
	for d in $(comm -13 <(echo "$cgroups_before") <(echo "$now") | awk '{print length($0) " " $0}' | sort -rn | cut -d' ' -f2-); do
		if [[ $d =~ /$uuid_re(/|$) || $d =~ /(cgrouptest|testdir)(/|$) ]]; then
			removed+=("leftover cgroup $d")
			rmdir "$d" 2>/dev/null || removed+=("  could not remove cgroup $d")
		elif ! grep -qxF "$d" <<<"$cgroups_seen"; then
			notes+=("new cgroup, not ours (not touched): $d")
		fi
	done
	cgroups_seen=$(cgroup_dirs)
	# Bundles the program did not remove. Never recurse into a mount.
	if mount_points | grep -q "^$WORK/"; then
		removed+=("mounts remain under $WORK; bundles not removed")
	elif [ -n "$(ls -A "$WORK/tmp")" ]; then
		removed+=("leftover files in TMPDIR: $(cd "$WORK/tmp" && ls -A | paste -sd' ')")
		find "$WORK/tmp" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} + 2>/dev/null
	fi
	[ ${#removed[@]} -gt 0 ] && leaks=$((leaks + 1))
	if [ ${#removed[@]} -gt 0 ] || [ ${#notes[@]} -gt 0 ]; then
		{
			echo "---- cleanup after the program ----"
			printf '%s\n' "${removed[@]}" "${notes[@]}" | grep -v '^$'
		} >>"$log"
	fi
}

current=
on_signal() {
	trap '' INT TERM
	if [ -n "$current" ]; then
		kill -TERM "$current" 2>/dev/null
		wait "$current" 2>/dev/null
		cleanup_after "$LOG_DIR/interrupted.log"
	fi
	echo "conformance: interrupted; logs in $LOG_DIR" >&2
	mount_points | grep -q "^$WORK/" || rm -rf --one-file-system "$WORK" 2>/dev/null
	exit 130
}
trap on_signal INT TERM

# ---------------------------------------------------------------- parse ---
# parse_tap FILE: prints "OKS SKIPS NOTOKS YAMLERRS REASON" where REASON is
# the first `not ok` line (plus the error of its diagnostic block), else the
# first failure reported only in a YAML diagnostic.
#
# A YAML block carrying an "error" key counts as a failure unless it is the
# first block after an `ok` line: programs attach the (expected) error of a
# negative test there, e.g. create's "create MUST generate an error if the ID
# is not provided". Blocks with no test line of their own (prestart_fail,
# poststart_fail, hooks, state, ...) are how some programs report failure.
parse_tap() {
	awk '
	# value of a "key": "string" (JSON) or key: string (YAML) line, up to
	# the first escaped newline, with the usual escapes undone.
	function value(s) {
		sub(/^[ \t]*"?[A-Za-z_ ]+"?[ \t]*:[ \t]*/, "", s)
		sub(/,[ \t]*$/, "", s)
		gsub(/^"|"$/, "", s)
		sub(/\\n.*/, "", s)
		gsub(/\\"/, "\"", s); gsub(/\\\\/, "\\", s)
		# logrus text format: time="..." level=error msg="..."
		if (match(s, /msg="/)) { s = substr(s, RSTART + 5); sub(/"[^"]*$/, "", s); gsub(/\\"/, "\"", s) }
		return s
	}
	/^not ok([ \t]|$)/ {
		notok++
		if (reason == "") { reason = $0; want = 1 } else want = 0
		attached = 0; next
	}
	/^ok([ \t]|$)/ { ok++; if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) skip++; attached = 1; want = 0; next }
	/^[ \t]+---[ \t]*$/ { inblock = 1; blockerr = ""; blockstderr = ""; next }
	inblock && /^[ \t]+\.\.\.[ \t]*$/ {
		inblock = 0
		if (blockerr != "" && !attached) { yamlerr++; if (yreason == "") yreason = "YAML error: " blockerr }
		if (want) {
			extra = blockstderr != "" ? blockstderr : blockerr
			if (extra != "" && index(reason, extra) == 0) reason = reason " [" extra "]"
			want = 0
		}
		attached = 0
		next
	}
	inblock {
		if (blockerr == "" && $0 ~ /^[ \t]*"?error"?[ \t]*:/) { blockerr = value($0); if (blockerr == "") blockerr = "(empty)" }
		if (blockstderr == "" && $0 ~ /^[ \t]*"?stderr"?[ \t]*:/) blockstderr = value($0)
		next
	}
	/^[0-9]+\.\.[0-9]+/ || /^TAP version/ { attached = 0; want = 0; next }
	END {
		if (reason == "") reason = yreason
		printf "%d %d %d %d %s\n", ok, skip, notok, yamlerr, reason
	}' "$1"
}

# stderr_summary FILE: the first two meaningful stderr lines on one line
# (logrus "time=... level=error msg=..." reduced to the message).
stderr_summary() {
	grep -v '^[[:space:]]*$' "$1" | grep -v '^subreaper: ' | head -n 2 |
		sed -E 's/^time="[^"]*" level=[a-z]+ msg="(.*)"$/\1/; s/\\"/"/g' | paste -sd'|' | sed 's/|/: /g'
}

one_line() { tr '\t\r' '  ' | tr -s ' ' | cut -c1-"${1:-200}"; }

# ------------------------------------------------------------------ run ---
echo "conformance: runtime $RUNTIME"
echo "conformance: logs in $LOG_DIR"
start_all=$SECONDS
passed=0
failed=0
failures=()
: >"$LOG_DIR/summary.txt"
for prog in "${programs[@]}"; do
	out=$LOG_DIR/$prog.tap
	err=$LOG_DIR/$prog.stderr
	log=$LOG_DIR/$prog.log
	t0=$SECONDS
	(cd "$WORK" && exec env TMPDIR="$WORK/tmp" RUNTIME="$RUNTIME" \
		"$BIN/subreaper" -timeout "${TIMEOUT}s" -- "$BIN/validation/$prog") \
		</dev/null >"$out" 2>"$err" &
	current=$!
	wait $current
	rc=$?
	current=
	dur=$((SECONDS - t0))
	{
		echo "program: $prog"
		echo "exit status: $rc"
		echo "duration: ${dur}s"
		echo "---- stdout (TAP) ----"
		cat "$out"
		echo "---- stderr ----"
		cat "$err"
	} >"$log"
	cleanup_after "$log"

	read -r oks skips notoks yamlerrs reason < <(parse_tap "$out")
	if [ "$rc" = 0 ] && [ "$notoks" = 0 ] && [ "$yamlerrs" = 0 ]; then
		passed=$((passed + 1))
		detail="$oks ok"
		[ "$skips" -gt 0 ] && detail="$detail, $skips skipped"
		line="PASS $prog ($detail)"
	else
		failed=$((failed + 1))
		failures+=("$prog")
		if [ "$rc" = 124 ]; then
			reason="timeout after ${TIMEOUT}s"
		elif [ -z "$reason" ]; then
			# Failure reported by exit status only: quote stderr (the
			# first lines are the interesting ones: panics, util.Fatal).
			reason="exit status $rc: $(stderr_summary "$err")"
		else
			# "not ok 1 - exit status 1" says little: add stderr.
			if [[ $reason =~ ^not\ ok\ [0-9]+\ -\ exit\ status\ [0-9]+$ ]] && [ -s "$err" ]; then
				reason="$reason [$(stderr_summary "$err")]"
			fi
			[ "$rc" != 0 ] && reason="$reason (exit status $rc)"
		fi
		line="FAIL $prog: $(echo "$reason" | one_line 240)"
	fi
	echo "$line"
	echo "$line" >>"$LOG_DIR/summary.txt"
done
trap - INT TERM

# ------------------------------------------------------------ teardown ---
# Anything still around that the run created (should have been cleaned
# after each program)?
left=$(comm -13 <(echo "$cgroups_before") <(cgroup_dirs) | grep -E "/($uuid_re|cgrouptest|testdir)(/|\$)")
[ -n "$left" ] && echo "conformance: warning: test cgroups still present: $(echo $left)"
left=$(mount_points | grep "^$WORK/")
if [ -n "$left" ]; then
	echo "conformance: warning: mounts still present, $WORK not removed: $(echo $left)"
else
	rm -rf --one-file-system "$WORK" 2>/dev/null
fi
[ $leaks -gt 0 ] && echo "conformance: $leaks program(s) left containers, mounts, cgroups or bundles behind (removed; see the '---- cleanup' section of their logs)"

# Known failures: lines "program-name  reason"; '#' starts a comment.
declare -A known=()
if [ -f "$KNOWN_FAILURES" ]; then
	while read -r name _; do
		[ -n "$name" ] && known[$name]=1
	done < <(sed 's/#.*//' "$KNOWN_FAILURES")
fi
unexpected=()
for prog in "${failures[@]}"; do
	[ -n "${known[$prog]:-}" ] || unexpected+=("$prog")
done
now_passing=()
for name in "${!known[@]}"; do
	if [ ! -x "$BIN/validation/$name" ]; then
		echo "conformance: warning: $(basename "$KNOWN_FAILURES") lists unknown program '$name'"
		continue
	fi
	ran=0
	for prog in "${programs[@]}"; do [ "$prog" = "$name" ] && ran=1; done
	[ $ran = 1 ] || continue
	listed_failing=0
	for prog in "${failures[@]}"; do [ "$prog" = "$name" ] && listed_failing=1; done
	[ $listed_failing = 1 ] || now_passing+=("$name")
done
if [ ${#now_passing[@]} -gt 0 ]; then
	echo "conformance: known failures that now pass (remove them from $(basename "$KNOWN_FAILURES")): $(printf '%s\n' "${now_passing[@]}" | sort | paste -sd' ')"
fi
if [ ${#failures[@]} -gt 0 ]; then
	echo "conformance: $((${#failures[@]} - ${#unexpected[@]})) known failure(s), ${#unexpected[@]} unexpected: ${unexpected[*]:-none}"
fi
echo "conformance: took $((SECONDS - start_all))s; logs in $LOG_DIR"
echo "conformance: $passed passed, $failed failed"
[ ${#unexpected[@]} -eq 0 ]
