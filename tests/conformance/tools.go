//go:build tools

// This file only exists so that `go mod tidy` records, in go.mod and go.sum,
// every module needed to build the OCI runtime-tools validation suite: the
// runtimetest binary and each validation program (one main package per
// directory under validation/). run.sh builds them; nothing imports this
// package. Regenerate the list when bumping runtime-tools:
//
//	go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' \
//	    github.com/opencontainers/runtime-tools/validation/...
package conformance

import (
	_ "github.com/opencontainers/runtime-tools/cmd/runtimetest"
	_ "github.com/opencontainers/runtime-tools/validation/config_updates_without_affect"
	_ "github.com/opencontainers/runtime-tools/validation/create"
	_ "github.com/opencontainers/runtime-tools/validation/default"
	_ "github.com/opencontainers/runtime-tools/validation/delete"
	_ "github.com/opencontainers/runtime-tools/validation/delete_only_create_resources"
	_ "github.com/opencontainers/runtime-tools/validation/delete_resources"
	_ "github.com/opencontainers/runtime-tools/validation/hooks"
	_ "github.com/opencontainers/runtime-tools/validation/hooks_stdin"
	_ "github.com/opencontainers/runtime-tools/validation/hostname"
	_ "github.com/opencontainers/runtime-tools/validation/kill"
	_ "github.com/opencontainers/runtime-tools/validation/kill_no_effect"
	_ "github.com/opencontainers/runtime-tools/validation/killsig"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_blkio"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_cpus"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_devices"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_hugetlb"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_memory"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_network"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_pids"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_relative_blkio"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_relative_cpus"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_relative_devices"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_relative_hugetlb"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_relative_memory"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_relative_network"
	_ "github.com/opencontainers/runtime-tools/validation/linux_cgroups_relative_pids"
	_ "github.com/opencontainers/runtime-tools/validation/linux_devices"
	_ "github.com/opencontainers/runtime-tools/validation/linux_masked_paths"
	_ "github.com/opencontainers/runtime-tools/validation/linux_mount_label"
	_ "github.com/opencontainers/runtime-tools/validation/linux_ns_itype"
	_ "github.com/opencontainers/runtime-tools/validation/linux_ns_nopath"
	_ "github.com/opencontainers/runtime-tools/validation/linux_ns_path"
	_ "github.com/opencontainers/runtime-tools/validation/linux_ns_path_type"
	_ "github.com/opencontainers/runtime-tools/validation/linux_process_apparmor_profile"
	_ "github.com/opencontainers/runtime-tools/validation/linux_readonly_paths"
	_ "github.com/opencontainers/runtime-tools/validation/linux_rootfs_propagation"
	_ "github.com/opencontainers/runtime-tools/validation/linux_seccomp"
	_ "github.com/opencontainers/runtime-tools/validation/linux_sysctl"
	_ "github.com/opencontainers/runtime-tools/validation/linux_uid_mappings"
	_ "github.com/opencontainers/runtime-tools/validation/misc_props"
	_ "github.com/opencontainers/runtime-tools/validation/mounts"
	_ "github.com/opencontainers/runtime-tools/validation/pidfile"
	_ "github.com/opencontainers/runtime-tools/validation/poststart"
	_ "github.com/opencontainers/runtime-tools/validation/poststart_fail"
	_ "github.com/opencontainers/runtime-tools/validation/poststop"
	_ "github.com/opencontainers/runtime-tools/validation/poststop_fail"
	_ "github.com/opencontainers/runtime-tools/validation/prestart"
	_ "github.com/opencontainers/runtime-tools/validation/prestart_fail"
	_ "github.com/opencontainers/runtime-tools/validation/process"
	_ "github.com/opencontainers/runtime-tools/validation/process_capabilities"
	_ "github.com/opencontainers/runtime-tools/validation/process_capabilities_fail"
	_ "github.com/opencontainers/runtime-tools/validation/process_oom_score_adj"
	_ "github.com/opencontainers/runtime-tools/validation/process_rlimits"
	_ "github.com/opencontainers/runtime-tools/validation/process_rlimits_fail"
	_ "github.com/opencontainers/runtime-tools/validation/process_user"
	_ "github.com/opencontainers/runtime-tools/validation/root_readonly_true"
	_ "github.com/opencontainers/runtime-tools/validation/start"
	_ "github.com/opencontainers/runtime-tools/validation/state"
)
