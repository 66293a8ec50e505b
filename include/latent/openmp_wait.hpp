#pragma once
// How latent's threads wait for work: by sleeping, not spinning.
//
// libgomp's default is to spin about 300,000 times (a few milliseconds) at
// every barrier and at the end of every parallel region before it sleeps.
// On a dedicated machine that saves a wake-up; on a busy one (a notebook, a
// CI runner, a server with other work) the spinning thread burns the time
// slice the thread it waits for needs: two-tower training with 2 threads on
// 2 shared cores took 2-3x longer than with OMP_WAIT_POLICY=passive
// (bench/contention_bench.py measures both, quiet and busy).
//
// libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when the program is
// loaded, before main(), and has no call to change them later; and glibc
// resets the environment after any earlier hook (.preinit_array) could set
// them. So the executables call this first thing in main(): when neither
// variable is set it sets OMP_WAIT_POLICY=passive and executes the program
// again (one exec, a few milliseconds). A user who set either variable keeps
// their choice: OMP_WAIT_POLICY=active brings the spinning back on a machine
// that does nothing else. The Python package sets the same default in
// latent/__init__.py before it loads the extension module (and libgomp).

namespace latent {

// Returns when nothing needs to change, or when the re-execution failed
// (the program then runs with libgomp's defaults, as before).
void wait_for_work_passively(char** argv) noexcept;

}  // namespace latent
