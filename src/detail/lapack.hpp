#pragma once
// The LAPACK routines latent uses (EASE's inverse, ALS's exact solves,
// GF-CF's randomized SVD), called straight from OpenBLAS (which ships
// LAPACK in libopenblas). Debian's libopenblas-dev installs no LAPACK
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

// QR factorisation of an m x n matrix `a` (lda), m >= n: R in the upper
// triangle, the Householder reflectors below it and in tau (min(m, n)).
// work: lwork floats; lwork = -1 only stores the optimal lwork in work[0].
// info: 0 on success, < 0 for an invalid argument.
void sgeqrf_(const int* m, const int* n, float* a, const int* lda, float* tau, float* work,
             const int* lwork, int* info);

// The m x n matrix Q with orthonormal columns from sgeqrf_'s first k
// reflectors (a and tau as it left them), in place. work and info as for
// sgeqrf_.
void sorgqr_(const int* m, const int* n, const int* k, float* a, const int* lda, const float* tau,
             float* work, const int* lwork, int* info);

// Eigenvalues (w, ascending) and, for jobz 'V', eigenvectors (the columns
// of a, in place) of the symmetric n x n matrix `a` (lda) from its triangle
// `uplo`, by divide and conquer. work: lwork doubles, iwork: liwork ints;
// lwork = liwork = -1 only stores the optimal sizes in work[0] and
// iwork[0]. info: 0 on success, > 0 when it did not converge, < 0 for an
// invalid argument.
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info,
             std::size_t jobz_len, std::size_t uplo_len);

// BLAS (also in libopenblas, with no header either): the triangle `uplo`
// of the symmetric n x n matrix C = alpha A A^T + beta C for trans 'N' (a:
// n x k) or alpha A^T A + beta C for trans 'T' (a: k x n); the other
// triangle is not touched.
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* beta, double* c, const int* ldc,
            std::size_t uplo_len, std::size_t trans_len);

}  // extern "C"

}  // namespace latent::detail
