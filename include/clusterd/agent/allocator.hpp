// The agent's allocator setting (issue 19, private bytes per agent): glibc's per-thread cache
// of freed chunks (tcache, up to 7 chunks of each of 64 sizes up to 1 KiB) keeps memory the
// agent freed after a join storm or a push-pull counted as private for the life of the process.
// glibc reads that setting only at start, so the agent re-executes itself once (same PID,
// same arguments) with glibc.malloc.tcache_count=0 added to GLIBC_TUNABLES, then puts the
// environment back as it was, so event handlers inherit the operator's environment unchanged.
// Measured in docs/performance.md ("Session 13").
#pragma once

namespace clusterd::agent {

/// Call first thing in a process that will run the agent. On the first call of a process: adds
/// the setting and re-executes /proc/self/exe with `argv` (does not return unless the exec
/// fails). After that re-exec: restores GLIBC_TUNABLES and the process name and returns.
/// Does nothing under valgrind, when GLIBC_TUNABLES already sets glibc.malloc.tcache_count (the operator's
/// choice), when CLUSTERD_MALLOC_DEFAULTS is set (opt-out), or in sanitizer builds.
void apply_allocator_setting(char** argv);

} // namespace clusterd::agent
