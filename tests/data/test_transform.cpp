// Transform chains resolved from transform_param (both styles) and their OpenCV semantics.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "../test_util.hpp"
#include "octet/data/transform.hpp"

using namespace octet;
using namespace octet::data;

namespace {

ufw::TransformationParameter tp(const std::string& text) {
  return test::parse_text<ufw::TransformationParameter>(text);
}

Sample iota_u8(Shape shape) {
  std::vector<uint8_t> v(static_cast<size_t>(shape_count(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i);
  return Sample::from(shape, v, DType::U8);
}

std::vector<float> run(const Transform& t, const Sample& s, Shape& shape) {
  std::vector<float> out;
  t.apply(s, out, shape);
  return out;
}

}  // namespace

TEST_CASE("RESIZE matches cv::resize INTER_LINEAR on uint8 HWC, channel by channel", "[data][transform]") {
  std::mt19937 rng(1);
  std::vector<uint8_t> v(3 * 10 * 14);
  for (auto& x : v) x = static_cast<uint8_t>(rng() & 255);
  auto s = Sample::from<uint8_t>({3, 10, 14}, v, DType::U8);
  auto t = Transform::from_param(tp("transform_op { op: RESIZE resize_h: 5 resize_w: 7 }"), "data");
  Shape shape;
  auto out = run(t, s, shape);
  CHECK(shape == Shape{3, 5, 7});
  // Reference: the same image as an OpenCV HWC uint8 Mat.
  cv::Mat hwc(10, 14, CV_8UC3);
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 14; ++x)
      for (int c = 0; c < 3; ++c) hwc.at<cv::Vec3b>(y, x)[c] = v[static_cast<size_t>((c * 10 + y) * 14 + x)];
  cv::Mat ref;
  cv::resize(hwc, ref, cv::Size(7, 5), 0, 0, cv::INTER_LINEAR);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x)
      for (int c = 0; c < 3; ++c)
        REQUIRE(out[static_cast<size_t>((c * 5 + y) * 7 + x)] == ref.at<cv::Vec3b>(y, x)[c]);
}

TEST_CASE("transform_op runs in listed order; STAND is (x - mean) * scale / div per channel", "[data][transform]") {
  auto s = iota_u8({2, 2, 2});  // channel 0: 0..3, channel 1: 4..7
  auto t = Transform::from_param(
      tp("transform_op { op: STAND mean_value: 1 mean_value: 2 scale: 2 scale: 3 div: 2 }"), "data");
  Shape shape;
  auto out = run(t, s, shape);
  CHECK(shape == Shape{2, 2, 2});
  CHECK(out == std::vector<float>{-1, 0, 1, 2, 3, 4.5, 6, 7.5});

  SECTION("bgr2rgb swaps before the op's own work") {
    auto s3 = iota_u8({3, 1, 1});  // B=0 G=1 R=2
    auto sw = Transform::from_param(tp("transform_op { op: STAND bgr2rgb: true mean_value: 2 mean_value: 0 "
                                       "mean_value: 0 }"),
                                    "data");
    auto o = run(sw, s3, shape);
    CHECK(o == std::vector<float>{0, 1, 0});  // R - 2, G, B
  }
  SECTION("crop then stand, one scale broadcast") {
    auto img = iota_u8({1, 4, 4});
    auto cs = Transform::from_param(tp("transform_op { op: CROP crop_h: 2 crop_w: 2 } "
                                       "transform_op { op: STAND scale: 0.5 }"),
                                    "data");
    auto o = run(cs, img, shape);
    CHECK(shape == Shape{1, 2, 2});
    CHECK(o == std::vector<float>{2.5, 3, 4.5, 5});
    CHECK(cs.describe() == "CROP 2x2 -> STAND mean [] scale [0.5] div 1");
  }
  SECTION("mean list of the wrong length is an error") {
    auto bad = Transform::from_param(tp("transform_op { op: STAND mean_value: 1 mean_value: 2 mean_value: 3 }"), "d");
    CHECK_THROWS_AS(run(bad, s, shape), ShapeError);
  }
}

TEST_CASE("Caffe fields run resize -> crop -> mean -> scale", "[data][transform]") {
  auto img = iota_u8({1, 4, 4});
  auto t = Transform::from_param(tp("crop_size: 2 mean_value: 5 scale: 2 mirror: true"), "data");
  Shape shape;
  auto out = run(t, img, shape);
  CHECK(shape == Shape{1, 2, 2});
  CHECK(out == std::vector<float>{0, 2, 8, 10});  // (5,6,9,10) - 5, times 2
  CHECK(t.describe() == "CROP 2x2 -> STAND mean [5] scale [2] div 1");

  SECTION("crop larger than the image is an error for Caffe crops") {
    auto big = Transform::from_param(tp("crop_size: 5"), "data");
    CHECK_THROWS_WITH(run(big, img, shape), Catch::Contains("larger than the image"));
  }
  SECTION("empty transform_param resolves to nothing") {
    CHECK(Transform::from_param(tp(""), "data").empty());
  }
}

TEST_CASE("mixing transform_op with Caffe fields is an error naming the layer", "[data][transform]") {
  CHECK_THROWS_WITH(Transform::from_param(tp("scale: 0.5 transform_op { op: STAND }"), "my_data"),
                    Catch::Contains("layer my_data") && Catch::Contains("mixes"));
  CHECK_THROWS_AS(Transform::from_param(tp("mean_value: 1 transform_op { op: CROP crop_h: 1 crop_w: 1 }"), "d"),
                  ModelError);
}

TEST_CASE("resize variants and TF crops", "[data][transform]") {
  auto img = iota_u8({1, 10, 20});
  Shape shape;
  SECTION("resize_side keeps the aspect ratio with the shorter side on target") {
    run(Transform::from_param(tp("transform_op { op: RESIZE resize_side: 5 }"), "d"), img, shape);
    CHECK(shape == Shape{1, 5, 10});
    run(Transform::from_param(tp("resize: 4"), "d"), img, shape);
    CHECK(shape == Shape{1, 4, 8});
    run(Transform::from_param(tp("resize: 4 resize: 6"), "d"), img, shape);
    CHECK(shape == Shape{1, 4, 6});
  }
  SECTION("FIT_LARGE_SIZE_AND_PAD pads (target - resized) / 2 on both sides") {
    auto out = run(Transform::from_param(tp("resize_param { resize_mode: FIT_LARGE_SIZE_AND_PAD height: 10 width: 10 "
                                            "pad_value: 7 }"),
                                         "d"),
                   img, shape);
    CHECK(shape == Shape{1, 10, 10});
    CHECK(out[0] == 7);                                        // top pad row (2 rows)
    CHECK(out[1 * 10 + 5] == 7);
    CHECK(out[2 * 10 + 5] != 7);                               // first image row
    CHECK(out[9 * 10 + 5] == 7);                               // bottom pad (3 rows)
  }
  SECTION("FIT_SMALL_SIZE keeps the aspect ratio, the other side larger") {
    run(Transform::from_param(tp("resize_param { resize_mode: FIT_SMALL_SIZE height: 6 width: 6 }"), "d"), img,
        shape);
    CHECK(shape == Shape{1, 6, 12});
  }
  SECTION("nearest interpolation from interp_mode") {
    auto out = run(Transform::from_param(tp("resize_param { height: 5 width: 10 interp_mode: NEAREST }"), "d"), img,
                   shape);
    CHECK(shape == Shape{1, 5, 10});
    for (float v : out) CHECK(static_cast<int>(v) % 2 == 0);  // samples existing even pixels, no blending
  }
  SECTION("crop_fraction is TF central_crop") {
    auto out = run(Transform::from_param(tp("crop_fraction: 0.5"), "d"), img, shape);
    CHECK(shape == Shape{1, 6, 10});  // start int((10-5)/2)=2 -> 6 rows; int((20-10)/2)=5 -> 10 cols
    CHECK(out[0] == 2 * 20 + 5);
  }
  SECTION("CROP transform_op larger than the image pads with `padding`") {
    auto out = run(Transform::from_param(tp("transform_op { op: CROP crop_h: 12 crop_w: 20 padding: -1 }"), "d"),
                   img, shape);
    CHECK(shape == Shape{1, 12, 20});
    CHECK(out[0] == -1);
    CHECK(out[20] == 0);  // first image pixel after one padded row
  }
  SECTION("batched records transform image by image") {
    auto b = iota_u8({2, 1, 4, 4});
    auto out = run(Transform::from_param(tp("crop_size: 2"), "d"), b, shape);
    CHECK(shape == Shape{2, 1, 2, 2});
    CHECK(out == std::vector<float>{5, 6, 9, 10, 21, 22, 25, 26});
  }
}

TEST_CASE("standardization and mean files", "[data][transform]") {
  auto img = Sample::from<float>({1, 1, 4}, {1, 2, 3, 4}, DType::F32);
  Shape shape;
  auto out = run(Transform::from_param(tp("standardization: true"), "d"), img, shape);
  const double sd = std::sqrt(1.25);
  CHECK(out[0] == Approx(-1.5 / sd));
  CHECK(out[3] == Approx(1.5 / sd));

  const std::string mean_file = (std::filesystem::temp_directory_path() / "octet_test_mean.binaryproto").string();
  {
    ufw::BlobProto b;
    b.set_num(1), b.set_channels(1), b.set_height(1), b.set_width(6);
    for (float v : {100.f, 1.f, 1.f, 2.f, 2.f, 100.f}) b.add_data(v);
    std::ofstream f(mean_file, std::ios::binary);
    b.SerializeToOstream(&f);
  }
  out = run(Transform::from_param(tp("mean_file: '" + mean_file + "'"), "d"), img, shape);
  CHECK(out == std::vector<float>{0, 1, 1, 2});  // centre window of the wider mean
  CHECK_THROWS_WITH(Transform::from_param(tp("mean_file: 'x' mean_value: 1"), "d"), Catch::Contains("both"));
  std::filesystem::remove(mean_file);
}
