#pragma once
// The LAPACK routines implicit ALS needs beyond lapack.hpp's, from OpenBLAS
// (see lapack.hpp for the conventions: Fortran entry points, arguments by
// pointer, column-major storage, the hidden length of each character
// argument passed last). Call detail::use_single_threaded_blas() first.

#include <cstddef>

#include "detail/lapack.hpp"  // spotrf_

namespace latent::detail {

extern "C" {

// Solves A X = B with spotrf_'s factor of A (same uplo); b is n x nrhs
// (leading dimension ldb), overwritten by X. info: 0 on success.
void spotrs_(const char* uplo, const int* n, const int* nrhs, const float* a, const int* lda,
             float* b, const int* ldb, int* info, std::size_t uplo_len);

// The double-precision Cholesky factorisation and solve, as spotrf_/spotrs_.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info,
             std::size_t uplo_len);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda,
             double* b, const int* ldb, int* info, std::size_t uplo_len);

}  // extern "C"

}  // namespace latent::detail
