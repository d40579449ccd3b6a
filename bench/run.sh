#!/usr/bin/env bash
# tabox's benchmark: tabox against runc and crun on the same work, the
# runtimes interleaved (rounds of A B C, each in a random order). Run as
# root on Debian:
#
#     bash bench/run.sh
#
# It installs what it needs (runc, crun, hyperfine, time, and what
# scripts/deps.sh installs), builds tabox, and writes the table, the raw
# numbers and the machine's and runtimes' versions to
# bench/results/<date>-<commit>.txt. bench/README.md says what each row
# means. Iteration counts (environment):
#
#     BENCH_RUNS=200         samples per runtime of each `run` row (1a-1d, 7)
#     BENCH_SANDBOX_RUNS=200 samples of each command of row 8 (tabox sandbox, bwrap, plain)
#     BENCH_PHASE_RUNS=200   samples per runtime of create, start and delete
#     BENCH_EXEC_RUNS=200    samples per runtime of exec
#     BENCH_SEQ=100          containers one after another (row 4a) ...
#     BENCH_PAR=50           ... and all at once (row 4b)
#     BENCH_MANY_RUNS=10     samples per runtime of rows 4a and 4b
#     BENCH_RSS_RUNS=10      samples per runtime of peak RSS
#     BENCH_BISECT_TRIES=3   runs that must all succeed at a memory limit (row 6)
#     BENCH_COPIES=3         copies of each runtime's binary the interleaved rows take turns with
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SELF=$HERE/run.sh
P=tbench # every container, and so every cgroup, of the benchmark is named $P-...
RTS=(tabox crun runc)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

RUNS=${BENCH_RUNS:-200}
SANDBOX_RUNS=${BENCH_SANDBOX_RUNS:-$RUNS}
PHASE_RUNS=${BENCH_PHASE_RUNS:-$RUNS}
EXEC_RUNS=${BENCH_EXEC_RUNS:-$RUNS}
SEQ_N=${BENCH_SEQ:-100}
PAR_N=${BENCH_PAR:-50}
MANY_RUNS=${BENCH_MANY_RUNS:-10}
RSS_RUNS=${BENCH_RSS_RUNS:-10}
BISECT_TRIES=${BENCH_BISECT_TRIES:-3}
COPIES=${BENCH_COPIES:-3}

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ----------------------------------------------------------- outside (host)

install_deps() {
	bash "$REPO/scripts/deps.sh" # gcc, libseccomp-dev, busybox-static, ...; checks Go
	local need=() pkg
	for pkg in runc crun hyperfine time busybox-static util-linux bubblewrap; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
	done
	if [ ${#need[@]} -gt 0 ]; then
		log "installing ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	fi
}

# host_check reports (and removes) what a run left on the host: cgroups
# named after the benchmark's containers and mounts of its directory.
host_check() {
	local work=$1 left d
	left=$(find /sys/fs/cgroup -depth -type d -name "$P-*" 2>/dev/null || true)
	if [ -n "$left" ]; then
		log "warning: cgroups left behind, removing them:"
		printf '%s\n' "$left" >&2
		while read -r d; do
			xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null || true
			rmdir "$d" 2>/dev/null || true
		done <<<"$left"
	fi
	if grep -q " $work" /proc/self/mountinfo; then
		log "warning: mounts left behind under $work"
	fi
}

outer() {
	[ "$(id -u)" = 0 ] || die "run as root"
	local t0 rc=0 work
	t0=$(date +%s)
	install_deps
	log "building tabox"
	(cd "$REPO" && bash scripts/build.sh)
	# What was built, and a copy of it: others may rebuild ./tabox meanwhile.
	local commit
	commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit+=-dirty; fi
	export BENCH_COMMIT=$commit
	work=$(mktemp -d /tmp/tabox-bench.XXXXXX)
	chmod 755 "$work" # the user-namespace container's root (uid 100000) walks through it
	cp "$REPO/tabox" "$work/tabox"
	# Copies of every runtime's binary, which the rows with a parameter
	# list take in turn: on this VM two copies of one binary can differ
	# by up to 8% in speed (where the kernel keeps its pages seems to
	# matter), and taking turns spreads that over all runtimes alike.
	mkdir "$work/copies"
	local c
	for c in $(seq "$COPIES"); do
		cat "$work/tabox" >"$work/copies/tabox.$c"
		cat "$(command -v crun)" >"$work/copies/crun.$c"
		cat "$(command -v runc)" >"$work/copies/runc.$c"
	done
	chmod 755 "$work"/copies/*
	(cd "$HERE/tool" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$work/benchtool" .)
	# A private mount namespace, so that the empty tmpfs over
	# /sys/fs/cgroup/unified (and everything else mounted) stays in it,
	# under a subreaper that reaps the containers' orphaned inits.
	trap 'log interrupted; cleaning up' INT TERM # clean up below all the same
	unshare --mount --propagation private -- "$work/benchtool" subreaper -- \
		bash "$SELF" __inner "$work" "$t0" || rc=$?
	host_check "$work"
	rm -rf "$work"
	log "total time including install and build: $(($(date +%s) - t0)) s"
	return $rc
}

# ----------------------------------------------------- inside (private mounts)

rt_cmd() { printf '%s --root %s' "$T/bin/$1" "$T/state/$1"; }

# hyper KEY RUNTIMES HYPERFINE-ARGS...: one hyperfine, one run per benchmark,
# and its times as raw lines. RUNTIMES name the commands in order when they
# are not given by a parameter {rt}.
hyper() {
	local key=$1 rts=$2
	shift 2
	if ! hyperfine -N --style none --runs 1 -i --export-json "$T/$key.json" "$@" >"$T/$key.log" 2>&1; then
		cat "$T/$key.log" >&2
		die "hyperfine failed for $key"
	fi
	"$TOOL" hf "$key" "$rts" "$T/$key.json" >>"$RAW"
}

row() { printf 'row\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; }

# rounds N RT,RT,...: N rounds of the runtimes for hyperfine's -L rt, each
# round in a random order, the rounds taking the binaries' copies in turn
# (RT.1, RT.2, …). In a fixed order each runtime always follows the same
# other one, and pays for what that one leaves the kernel to finish: a
# command run right after a tabox run here takes 0.1-0.2 ms longer than
# one right after crun's.
rounds() {
	local n=$1 i
	for i in $(seq "$n"); do
		tr , '\n' <<<"$2" | shuf | sed "s/\$/.$(((i - 1) % COPIES + 1))/"
	done | paste -sd,
}

# copies RT: the names of RT's copies.
copies() {
	local c
	for c in $(seq "$COPIES"); do echo "$1.$c"; done
}

# helper_rm ID RT: deletes the container if it exists.
helper_rm() {
	local id=$1 rt=$2
	[ -e "$T/state/$rt/$id" ] || return 0
	$(rt_cmd "$rt") delete --force "$id" >/dev/null 2>&1 || true
}

# helper_mk created|running|stopped ID RT [BUNDLE]
helper_mk() {
	local want=$1 id=$2 rt=$3 bundle=${4:-$T/b/def} i
	$(rt_cmd "$rt") create --bundle "$bundle" "$id" </dev/null >/dev/null
	[ "$want" = created ] && return 0
	$(rt_cmd "$rt") start "$id"
	[ "$want" = running ] && return 0
	for i in $(seq 500); do
		$(rt_cmd "$rt") state "$id" | grep -q '"status": *"stopped"' && return 0
		sleep 0.01
	done
	die "$rt: $id did not stop"
}

helper() {
	case $1 in
	rm) helper_rm "$2" "$3" ;;
	mk) helper_mk "$2" "$3" "$4" ;;
	*) die "unknown helper $1" ;;
	esac
}

# mkbundle NAME OP...: a bundle sharing the base config's rootfs.
mkbundle() {
	local name=$1
	shift
	mkdir -p "$T/b/$name"
	cp "$T/b/base.json" "$T/b/$name/config.json"
	[ $# -eq 0 ] || "$TOOL" config "$T/b/$name/config.json" "$@"
}

# sanity NAME EXPECTED SCRIPT: the bundle NAME with process.args sh -c
# SCRIPT must print EXPECTED in every runtime.
sanity() {
	local name=$1 want=$2 script=$3 rt got
	mkdir -p "$T/b/chk-$name"
	cp "$T/b/$name/config.json" "$T/b/chk-$name/config.json"
	"$TOOL" config "$T/b/chk-$name/config.json" set process.args "[\"/bin/sh\",\"-c\",$(printf '%s' "$script" | sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/')]"
	for rt in "${RTS[@]}"; do
		got=$($(rt_cmd "$rt") run --bundle "$T/b/chk-$name" "$P-chk-$name-$rt" </dev/null 2>&1) ||
			die "$rt: the $name bundle does not run: $got"
		got=$(printf '%s' "$got" | tr -s ' \t' ' ' | sed 's/^ //; s/ $//')
		printf '  %-8s %-6s %s\n' "$name" "$rt" "$got" >>"$SANITY"
		[ "$got" = "$want" ] || die "$rt: the $name bundle printed '$got', not '$want'"
	done
}

# probe RT KIB: run /bin/true succeeds BISECT_TRIES times under a memory
# limit of KIB KiB.
probe() {
	local rt=$1 kib=$2 t id rc
	cp "$T/b/def/config.json" "$T/b/mem-$rt/config.json"
	"$TOOL" config "$T/b/mem-$rt/config.json" set linux.resources.memory "{\"limit\":$((kib * 1024))}"
	for t in $(seq "$BISECT_TRIES"); do
		id=$P-minmem-$rt-$kib-$t
		rc=0
		timeout 30 $(rt_cmd "$rt") run --bundle "$T/b/mem-$rt" "$id" </dev/null >/dev/null 2>&1 || rc=$?
		helper_rm "$id" "$rt"
		[ $rc = 0 ] || return 1
	done
}

# minmem RT: the smallest memory limit (KiB, to 4 KiB) in 64 KiB..64 MiB
# under which run /bin/true succeeds.
minmem() {
	local rt=$1 lo=64 hi=65536 mid
	mkdir -p "$T/b/mem-$rt"
	if ! probe "$rt" $hi; then
		printf 'note\tminmem\t%s\t> 65536 (fails at 64 MiB)\n' "$rt" >>"$RAW"
		return
	fi
	if probe "$rt" $lo; then
		printf 'note\tminmem\t%s\t<= 64\n' "$rt" >>"$RAW"
		return
	fi
	while [ $((hi - lo)) -gt 4 ]; do
		mid=$(((lo + hi) / 2 / 4 * 4))
		if probe "$rt" $mid; then hi=$mid; else lo=$mid; fi
	done
	printf 'val\tminmem\t%s\t%s\n' "$rt" "$hi" >>"$RAW"
}

inner_cleanup() {
	local rt d
	for rt in $(ls "$T/state" 2>/dev/null); do
		[ -e "$T/bin/$rt" ] || continue
		for d in "$T/state/$rt/$P"-*; do
			[ -e "$d" ] || continue
			$(rt_cmd "$rt") delete --force "$(basename "$d")" >/dev/null 2>&1 || true
		done
	done
	umount "$T" 2>/dev/null || umount -l "$T" 2>/dev/null || true
	if [ -n "${UNIFIED_MOUNTED:-}" ]; then umount /sys/fs/cgroup/unified 2>/dev/null || true; fi
}

inner() {
	WORK=$1
	local t0=$2 tb rt i name ids commit stamp out tabox_exec c
	export T=$WORK/t TOOL=$WORK/benchtool
	RAW=$T/raw.txt SANITY=$T/sanity.txt
	local bench_t0 load0
	bench_t0=$(date +%s)
	load0=$(cut -d' ' -f1-3 /proc/loadavg)

	# A pure v1 host for all three: crun 1.8.1 refuses a v2 mount beside
	# the v1 hierarchies. (crun still makes a directory with a cgroup.procs
	# file in it for each container, and leaves them: room for them.)
	if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		mount -t tmpfs -o size=256m,mode=755 tabox-bench /sys/fs/cgroup/unified
		UNIFIED_MOUNTED=1
	fi
	mkdir -p "$T"
	mount -t tmpfs -o mode=755 tabox-bench "$T"
	trap inner_cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$T/bin" "$T/state" "$T/b"
	: >"$RAW"
	: >"$SANITY"

	# The runtimes, each with its own --root.
	ln -s "$WORK/tabox" "$T/bin/tabox"
	ln -s "$(command -v crun)" "$T/bin/crun"
	ln -s "$(command -v runc)" "$T/bin/runc"
	for rt in "${RTS[@]}"; do
		mkdir -p "$T/state/$rt"
		for c in $(copies "$rt"); do
			ln -s "$WORK/copies/$c" "$T/bin/$c"
			mkdir -p "$T/state/$c"
		done
	done

	# The rootfs: Debian's static busybox and its applets; a copy owned by
	# the user namespace's root for 1b.
	local R=$T/rootfs
	mkdir -p "$R"/{bin,proc,sys,dev,tmp,etc}
	cp /bin/busybox "$R/bin/busybox"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
	echo 'root:x:0:' >"$R/etc/group"
	cp -a "$R" "$T/rootfs-userns"
	chown -R -h 100000:100000 "$T/rootfs-userns"

	# The base config is tabox's default (runc's, but for the hostname and
	# the ambient capabilities), without a terminal, running /bin/true, at
	# an ociVersion crun 1.8.1 accepts, with the rootfs shared by path.
	mkdir -p "$T/b/spec"
	"$T/bin/tabox" spec --bundle "$T/b/spec"
	cp "$T/b/spec/config.json" "$T/b/base.json"
	"$TOOL" config "$T/b/base.json" \
		set ociVersion '"1.0.2"' \
		set process.terminal false \
		set process.args '["/bin/true"]' \
		set root.path "\"$R\""
	mkbundle def
	mkbundle userns \
		append linux.namespaces '{"type":"user"}' \
		set linux.uidMappings '[{"containerID":0,"hostID":100000,"size":65536}]' \
		set linux.gidMappings '[{"containerID":0,"hostID":100000,"size":65536}]' \
		set root.path "\"$T/rootfs-userns\""
	mkbundle limits \
		set linux.resources.memory '{"limit":67108864}' \
		set linux.resources.pids '{"limit":64}'
	mkbundle seccomp seccomp
	mkbundle sleep set process.args '["/bin/sleep","100000"]'

	# Every runtime must do the same work: check what the container sees.
	log "sanity checks"
	sanity def 'uid=0 host=tabox pid=1' 'echo "uid=$(id -u) host=$(hostname) pid=$$"'
	sanity userns '0 100000 65536' 'cat /proc/self/uid_map'
	# shellcheck disable=SC2016
	sanity limits 'mem=67108864 pids=64' 'm=$(grep :memory: /proc/self/cgroup | cut -d: -f3); p=$(grep :pids: /proc/self/cgroup | cut -d: -f3); echo "mem=$(cat /sys/fs/cgroup/memory$m/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes) pids=$(cat /sys/fs/cgroup/pids$p/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)"'
	sanity seccomp 'Seccomp: 2 filters: 1' 'echo "$(grep ^Seccomp: /proc/self/status) filters: $(grep ^Seccomp_filters: /proc/self/status | cut -f2)"'

	log "warm-up"
	for i in 1 2 3; do
		for rt in "${RTS[@]}"; do
			$(rt_cmd "$rt") run --bundle "$T/b/def" "$P-warm-$rt-$i" </dev/null >/dev/null
		done
	done

	# Every move of a process into a cgroup takes the kernel's cgroup
	# thread-group lock, which, when it has been idle, first waits for an
	# RCU grace period (several ms here); for about a grace period after
	# a move, the next move does not wait. Interleaved, whether a runtime
	# finds the lock warm would depend on what ran before it: every
	# measured command starts after the same idle pause (COLD, longer than
	# a grace period), or, in the "warm" rows, right after a move (WARM).
	local COLD=(--prepare "sleep 0.03") WARM=(--prepare "$TOOL prime")

	# 1: run, four configs; the floor (7) interleaved with 1a, in a fixed
	# order (a command line of its own). run deletes its container, whose
	# name is then free for the runtime's next run (the cleanup deletes
	# one a failed run left).
	local floor="unshare --pid --fork --mount --uts --ipc --net chroot $R /bin/true"
	local RT="$T/bin/{rt} --root $T/state/{rt}"
	for v in "run_default def cold 1a run /bin/true, default namespaces" \
		"run_userns userns cold 1b run, + user namespace" \
		"run_limits limits cold 1c run, + memory and pids limits" \
		"run_seccomp seccomp cold 1d run, + seccomp profile" \
		"run_warm def warm 1e run /bin/true, cgroup lock warm"; do
		read -r key name lock label <<<"$v"
		log "$label ($RUNS runs each)"
		row "$key" ms "$label"
		local cmds=() prep=("${COLD[@]}")
		[ "$lock" = warm ] && prep=("${WARM[@]}")
		if [ "$key" = run_default ]; then
			for rt in "${RTS[@]}"; do
				cmds+=("$(rt_cmd "$rt") run --bundle $T/b/$name $P-$name-$rt-{i}")
			done
			hyper "$key" tabox,crun,runc,floor "${prep[@]}" -P i 1 "$RUNS" "${cmds[@]}" "$floor"
		else
			hyper "$key" "" "${prep[@]}" -L rt "$(rounds "$RUNS" tabox,crun,runc)" \
				--cleanup "bash $SELF __helper rm $P-$name-{rt} {rt}" \
				"$RT run --bundle $T/b/$name $P-$name-{rt}"
		fi
	done

	# 2: the lifecycle's phases, each on its own; what is not measured is
	# done in hyperfine's --prepare and --cleanup (which deletes each
	# container, so that its name is free for the next round).
	log "2 create, start, delete ($PHASE_RUNS runs each)"
	local phase_rts
	row create ms "2a create"
	phase_rts=$(rounds "$PHASE_RUNS" tabox,crun,runc)
	hyper create "" -L rt "$phase_rts" "${COLD[@]}" \
		--cleanup "bash $SELF __helper rm $P-create-{rt} {rt}" \
		"$RT create --bundle $T/b/def $P-create-{rt}"
	row start ms "2b start"
	phase_rts=$(rounds "$PHASE_RUNS" tabox,crun,runc)
	hyper start "" -L rt "$phase_rts" \
		--prepare "bash $SELF __helper mk created $P-start-{rt} {rt}" \
		--cleanup "bash $SELF __helper rm $P-start-{rt} {rt}" \
		"$RT start $P-start-{rt}"
	row delete ms "2c delete (stopped container)"
	phase_rts=$(rounds "$PHASE_RUNS" tabox,crun,runc)
	hyper delete "" -L rt "$phase_rts" \
		--prepare "bash $SELF __helper mk stopped $P-delete-{rt} {rt}" \
		--cleanup "bash $SELF __helper rm $P-delete-{rt} {rt}" \
		"$RT delete $P-delete-{rt}"

	# 3: exec into a running container.
	log "3 exec ($EXEC_RUNS runs each)"
	row exec ms "3  exec /bin/true"
	local exec_rts=()
	for rt in "${RTS[@]}"; do
		if [ "$rt" = tabox ] && ! "$T/bin/tabox" exec --help >/dev/null 2>&1; then
			printf 'note\texec\ttabox\tn/a (tabox has no exec yet)\n' >>"$RAW"
			continue
		fi
		exec_rts+=("$rt")
		for c in $(copies "$rt"); do helper_mk running "$P-exec-$c" "$c" "$T/b/sleep"; done
	done
	local exec_list
	exec_list=$(
		IFS=,
		echo "${exec_rts[*]}"
	)
	hyper exec "" -L rt "$(rounds "$EXEC_RUNS" "$exec_list")" "${COLD[@]}" "$RT exec $P-exec-{rt} /bin/true"
	row exec_warm ms "3b exec, cgroup lock warm"
	hyper exec_warm "" -L rt "$(rounds "$EXEC_RUNS" "$exec_list")" "${WARM[@]}" "$RT exec $P-exec-{rt} /bin/true"
	for rt in "${exec_rts[@]}"; do
		for c in $(copies "$rt"); do helper_rm "$P-exec-$c" "$c"; done
	done

	# 4: many containers, one after another and all at once.
	log "4 $SEQ_N containers one after another, $PAR_N at once ($MANY_RUNS runs each)"
	row seq ms "4a $SEQ_N containers one after another"
	# Each loop names its containers with its own PID ({p}): one a failed
	# run left cannot be in the way of a later round's.
	hyper seq "" -L rt "$(rounds "$MANY_RUNS" tabox,crun,runc)" \
		"$TOOL loop -n $SEQ_N -failfile $T/fail-seq-{rt} -- $RT run --bundle $T/b/def $P-seq-{rt}-{p}-{n}"
	row par ms "4b $PAR_N containers at once"
	hyper par "" -L rt "$(rounds "$MANY_RUNS" tabox,crun,runc)" \
		"$TOOL loop -par -n $PAR_N -failfile $T/fail-par-{rt} -- $RT run --bundle $T/b/def $P-par-{rt}-{p}-{n}"
	for key in seq par; do
		for rt in "${RTS[@]}"; do
			printf 'fail\t%s\t%s\t%s\n' "$key" "$rt" "$(cat "$T/fail-$key-$rt".* 2>/dev/null | awk '{s += $1} END {print s + 0}')" >>"$RAW"
		done
	done
	# The loops' runs leave containers when they fail: clean them now.
	for rt in $(ls "$T/state"); do
		[ -e "$T/bin/$rt" ] || continue
		for d in "$T/state/$rt/$P"-*; do
			[ -e "$d" ] && helper_rm "$(basename "$d")" "$rt"
		done
	done

	# 8: one program without a bundle: tabox sandbox against bubblewrap
	# with the same namespaces (pid, ipc, uts, net, mount; a user
	# namespace for bwrap, which needs one to change the uid), the same
	# read-only system directories, a read-write workdir, a tmpfs /tmp and
	# a minimal /dev, uid 65534, no capabilities, and the plain program.
	# bwrap sets up no cgroup, limits, accounting or seccomp filter;
	# tabox does all of them (default flags: --pids 1).
	log "8 sandbox /bin/true: tabox sandbox, bwrap, plain ($SANDBOX_RUNS runs each)"
	local sbw=$T/sandbox-work binds=() d
	mkdir -p "$sbw" "$T/state/sandbox"
	for d in /usr /lib /lib64 /lib32 /libx32 /bin /sbin /etc; do binds+=(--ro-bind-try "$d" "$d"); done
	# /tmp first: the workdir is under it.
	local sb_tabox="$T/bin/tabox --root $T/state/sandbox sandbox --workdir $sbw"
	local sb_bwrap="bwrap --unshare-user --uid 65534 --gid 65534 --unshare-pid --unshare-ipc --unshare-uts --unshare-net --die-with-parent --new-session --cap-drop ALL ${binds[*]} --tmpfs /tmp --bind $sbw $sbw --chdir $sbw --dev /dev"
	local got check
	for rt in tabox bwrap; do
		check=$sb_bwrap
		# The check forks (id, pwd): tabox's default is one process.
		[ "$rt" = tabox ] && check="$sb_tabox --pids 8 --"
		# shellcheck disable=SC2016
		got=$($check /bin/sh -c 'echo "uid=$(id -u) pid=$$ cwd=$(pwd)"' </dev/null 2>&1) || die "$rt: the sandbox does not run: $got"
		printf '  %-8s %-6s %s\n' sandbox "$rt" "$got" >>"$SANITY"
		[ "$got" = "uid=65534 pid=2 cwd=$sbw" ] || die "$rt: the sandbox printed '$got'"
	done
	row sandbox ms "8  sandbox -- /bin/true"
	hyper sandbox tabox,bwrap,plain -P i 1 "$SANDBOX_RUNS" "$sb_tabox -- /bin/true" "$sb_bwrap /bin/true" /bin/true

	# 5: peak RSS of the runtime during run (GNU time's %M: the largest
	# maximum resident set of the runtime and the children it waited for)
	# and the size of its binary.
	log "5 peak RSS ($RSS_RUNS runs each), binary size"
	row rss MiB "5a peak RSS of run"
	# A binary just written (tabox's, built above) sits in the page cache
	# as its writer left it, and runs with about 1 MB more of it mapped
	# than once read back from disk. Every runtime's binary is dropped
	# from the page cache first: each is then read as after a boot.
	for rt in "${RTS[@]}"; do
		f=$(readlink -f "$T/bin/$rt")
		sync "$f" && dd if="$f" iflag=nocache count=0 status=none
	done
	for i in $(seq "$RSS_RUNS"); do
		for rt in "${RTS[@]}"; do
			/usr/bin/time -f %M -o "$T/rss" $(rt_cmd "$rt") run --bundle "$T/b/def" "$P-rss-$rt-$i" </dev/null >/dev/null
			printf 'val\trss\t%s\t%s\n' "$rt" "$(awk '{printf "%.2f", $1 / 1024}' "$T/rss")" >>"$RAW"
		done
	done
	row size MiB "5b binary size"
	for rt in "${RTS[@]}"; do
		printf 'val\tsize\t%s\t%s\n' "$rt" "$(stat -L -c %s "$T/bin/$rt" | awk '{printf "%.2f", $1 / 1048576}')" >>"$RAW"
	done

	# 6: the smallest memory limit under which run /bin/true succeeds.
	log "6 smallest memory limit (bisecting 64 KiB..64 MiB)"
	row minmem KiB "6  min memory.limit for run"
	for rt in "${RTS[@]}"; do minmem "$rt"; done

	# The report.
	commit=${BENCH_COMMIT:-unknown}
	stamp=$(date +%Y%m%d-%H%M%S)
	mkdir -p "$HERE/results"
	out=$HERE/results/$stamp-$commit.txt
	{
		echo "tabox benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), tabox commit $commit"
		echo
		"$TOOL" table "$RAW"
		echo
		echo "Medians (min-max) over the runs; ratios are of the medians. Runs per runtime:"
		echo "  run rows and floor $RUNS, phases $PHASE_RUNS, exec $EXEC_RUNS, many $MANY_RUNS, RSS $RSS_RUNS, sandbox $SANDBOX_RUNS; memory bisection: $BISECT_TRIES successful runs per limit."
		echo "Benchmark time: $(($(date +%s) - bench_t0)) s (with install and build: $(($(date +%s) - t0)) s)"
		echo
		echo "== machine"
		echo "kernel: $(uname -srm); Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
		echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
		echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
		echo "cgroups: v1 hierarchies $(find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d -printf '%f ' 2>/dev/null); unified hidden by an empty tmpfs: ${UNIFIED_MOUNTED:-no}"
		echo "load average: at the start $load0, at the end $(cut -d' ' -f1-3 /proc/loadavg) (the benchmark itself makes some)"
		echo
		echo "== runtimes"
		echo "tabox: $("$T/bin/tabox" --version 2>&1 | tr '\n' ' ') (built from $REPO at $commit)"
		echo "crun: $(crun --version 2>&1 | head -2 | tr '\n' ' ') ($(readlink "$T/bin/crun"), $(dpkg-query -W -f='${Version}' crun 2>/dev/null))"
		echo "runc: $(runc --version 2>&1 | tr '\n' ' ') ($(readlink "$T/bin/runc"))"
		echo "hyperfine: $(hyperfine --version)"
		echo "bwrap: $(bwrap --version) ($(dpkg-query -W -f='${Version}' bubblewrap 2>/dev/null))"
		for rt in "${RTS[@]}"; do
			echo "$rt links: $(ldd "$(readlink -f "$T/bin/$rt")" 2>&1 | awk '{print $1}' | tr '\n' ' ')"
		done
		echo "seccomp profile (1d): $("$TOOL" seccomp-stats)"
		echo
		echo "== sanity: what the container saw"
		cat "$SANITY"
		echo
		echo "== raw numbers (ms unless the row says otherwise)"
		cat "$RAW"
	} >"$T/report.txt"
	cp "$T/report.txt" "$out"
	sed -n '1,/^Benchmark time/p' "$T/report.txt"
	echo
	echo "Written to $out"
}

case ${1:-} in
__inner)
	shift
	inner "$@"
	;;
__helper)
	shift
	helper "$@"
	;;
"") outer ;;
*) die "usage: bash bench/run.sh (no arguments; see the BENCH_* variables at the top)" ;;
esac
