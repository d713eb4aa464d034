// Umbrella for the fixed-point family (saturation, rounding, requantisation, quantisation,
// lookup tables). Depends only on the standard library and core/error.hpp.
#pragma once
#include "octet/fixed/lut.hpp"
#include "octet/fixed/quantize.hpp"
#include "octet/fixed/requant.hpp"
#include "octet/fixed/rounding.hpp"
#include "octet/fixed/saturate.hpp"
