#pragma once
// The LAPACK routines latent uses (EASE's inverse, ALS's exact solves),
// called straight from OpenBLAS (which
// ships LAPACK in libopenblas). Debian's libopenblas-dev installs no LAPACK
// header (LAPACKE is a separate package), so the Fortran prototypes are
// declared here, as the symbols are exported: every argument
// by pointer, matrices column-major, and the hidden length of each character
// argument passed last (gfortran's convention; OpenBLAS's C implementations
// ignore it). Call detail::prepare_blas() first (blas.hpp).

#include <cstddef>

namespace latent::detail {

extern "C" {

// Cholesky factorisation of a symmetric positive definite n x n matrix `a`
// (leading dimension lda) in place, using the triangle `uplo` ('U' or 'L').
// info: 0 on success, i > 0 when the leading minor of order i is not
// positive definite, < 0 for an invalid argument.
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info,
             std::size_t uplo_len);

// Inverse of that matrix from spotrf_'s factor, in place, in the same
// triangle (the other triangle is not touched). info as for spotrf_.
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info,
             std::size_t uplo_len);

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
