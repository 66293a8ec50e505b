// latent: train, query, inspect, tune and serve recommender models.
#include "app.hpp"

int main(int argc, char** argv) { return latent::cli::run(argc, argv); }
