// latent: train, query, inspect, tune and serve recommender models.
#include <latent/atomic_output.hpp>
#include <latent/openmp_wait.hpp>

#include "app.hpp"

int main(int argc, char** argv) {
  // Threads that sleep while they wait: may execute the program again.
  latent::wait_for_work_passively(argv);
  // SIGINT or SIGTERM mid-save must not leave temporary files behind.
  latent::remove_temp_files_on_signal();
  return latent::cli::run(argc, argv);
}
