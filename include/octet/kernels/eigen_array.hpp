// Includes Eigen/Core for the pointwise kernels. GCC 12.2 (Debian 12) reports false
// -Wuninitialized / -Wmaybe-uninitialized from its own AVX-512 intrinsic headers whenever
// Eigen's vectorised exp/log/pow/floor are inlined (GCC bug 105593), which -Werror turns
// into build failures. Diagnostics are located in the intrinsic header, so silencing them
// where that header is first parsed is enough; include this before anything that pulls in
// <immintrin.h>. Depends on Eigen only.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <Eigen/Core>
#pragma GCC diagnostic pop
