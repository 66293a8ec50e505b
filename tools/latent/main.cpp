// latent: train, query, inspect, tune and serve recommender models.
#include <latent/atomic_output.hpp>

#include "app.hpp"

int main(int argc, char** argv) {
  // SIGINT or SIGTERM mid-save must not leave temporary files behind.
  latent::remove_temp_files_on_signal();
  return latent::cli::run(argc, argv);
}
