#pragma once
// How latent's threads wait for work: a short spin, then sleep.
//
// libgomp's default is to spin 300,000 times (a few milliseconds) at every
// barrier and at the end of every parallel region before it sleeps. On a
// dedicated machine that saves a wake-up; on a busy one (a notebook, a CI
// runner, a server with other work) the spinning thread burns the time
// slice the thread it waits for needs. Sleeping at once
// (OMP_WAIT_POLICY=passive) costs on a quiet machine instead, where every
// short parallel region pays a wake-up. 10,000 spins (tens of microseconds)
// is the middle: bench/contention_bench.py runs all three, and its figures
// (docs/benchmarks.md, "A busy machine") show this default as fast as
// libgomp's on a quiet machine and up to 1.75x faster beside a busy process,
// and passive up to 1.2x slower when quiet.
//
// libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when the program is
// loaded, before main(), and has no call to change them later; and glibc
// resets the environment after any earlier hook (.preinit_array) could set
// them. So the executables call this first thing in main(): when neither
// variable is set it sets GOMP_SPINCOUNT and executes the program again (one
// exec, a few milliseconds). A user who set either variable keeps their
// choice: OMP_WAIT_POLICY=active brings the long spinning back on a machine
// that does nothing else. The Python package sets the same default in
// latent/__init__.py before it loads the extension module (and libgomp).

namespace latent {

// Spins before a waiting thread sleeps (libgomp's GOMP_SPINCOUNT).
inline constexpr const char* kSpinCount = "10000";

// Returns when nothing needs to change, or when the re-execution failed
// (the program then runs with libgomp's defaults, as before).
void wait_for_work_passively(char** argv) noexcept;

}  // namespace latent
