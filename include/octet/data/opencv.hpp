// The OpenCV headers Octet uses (core, imgproc, imgcodecs), included with the C++20
// enum-arithmetic deprecation silenced: OpenCV 4.6's inline code trips it, and the build
// treats warnings as errors. Include OpenCV through this header only.
#pragma once
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-enum-enum-conversion"
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#pragma GCC diagnostic pop
