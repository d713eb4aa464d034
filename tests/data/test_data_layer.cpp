// The Data layer through the Layer interface (no Net), its registration, and the -D layer
// parameter builder.
#include <catch2/catch.hpp>

#include <google/protobuf/text_format.h>

#include <filesystem>

#include "../test_util.hpp"
#include "octet/data/data_layer_param.hpp"
#include "octet/engine/layers/data.hpp"

namespace fs = std::filesystem;
using namespace octet;
using namespace octet::data;
using octet::test::parse_layer;
using octet::test::TempDir;
using namespace octet::engine;

namespace {

std::string data_layer_text(const fs::path& src, const std::string& extra = "", bool label = true) {
  return "name: 'data' type: 'Data' top: 'data' " + std::string(label ? "top: 'label' " : "") +
         "data_param { source: '" + src.string() + "' batch_size: 0 backend: LMDB } " + extra;
}

// Five float records [1,2,3] whose values are record*100 + i, labels record*10.
fs::path write_float_lmdb(const fs::path& dir, int n = 5, Shape shape = {1, 2, 3}) {
  LmdbWriter w(dir);
  for (int r = 0; r < n; ++r) {
    std::vector<float> v(static_cast<size_t>(shape_count(shape)));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(r * 100 + static_cast<int>(i));
    w.put(Sample::from(shape, v, DType::F32, r * 10));
  }
  w.close();
  return dir;
}

struct Run {
  std::unique_ptr<Layer> l;
  std::vector<FloatTensor> tops;
  std::vector<Shape> shapes;
  explicit Run(const ufw::LayerParameter& p) {
    LayerRegistry reg;
    register_data_layers(reg);
    l = reg.create(p);
    shapes = l->reshape({});
    for (auto& s : shapes) tops.emplace_back(s);
  }
  void forward() {
    std::vector<FloatTensor*> t;
    for (auto& x : tops) t.push_back(&x);
    l->forward({}, t);
  }
};

}  // namespace

TEST_CASE("Data layer feeds one stored record per forward with batch_size 0 and cycles", "[data][layer]") {
  TempDir t;
  auto db = write_float_lmdb(t.path / "db");
  Run run(parse_layer(data_layer_text(db)));
  CHECK(run.l->is_data_source());
  REQUIRE(run.shapes.size() == 2);
  CHECK(run.shapes[0] == Shape{1, 2, 3});
  CHECK(run.shapes[1] == Shape{1});
  for (int i = 0; i < 7; ++i) {
    run.forward();
    const int r = i % 5;
    CHECK(run.tops[0][0] == r * 100);
    CHECK(run.tops[0][5] == r * 100 + 5);
    CHECK(run.tops[1][0] == r * 10);
  }
  CHECK(dynamic_cast<DataLayer&>(*run.l).record_count() == 5);
}

TEST_CASE("Data layer batch_size N stacks records, or concatenates 4-D ones", "[data][layer]") {
  TempDir t;
  SECTION("CHW records -> [N,C,H,W]") {
    auto db = write_float_lmdb(t.path / "db", 3, {1, 2, 2});
    auto p = parse_layer(data_layer_text(db));
    p.mutable_data_param()->set_batch_size(2);
    Run run(p);
    CHECK(run.shapes[0] == Shape{2, 1, 2, 2});
    CHECK(run.shapes[1] == Shape{2});
    run.forward();
    CHECK(run.tops[0][4] == 100);
    CHECK(run.tops[1][1] == 10);
    run.forward();  // records 2, 0
    CHECK(run.tops[0][0] == 200);
    CHECK(run.tops[0][4] == 0);
  }
  SECTION("NCHW records -> concatenated batch") {
    auto db = write_float_lmdb(t.path / "db", 3, {1, 1, 2, 2});
    auto p = parse_layer(data_layer_text(db, "", false));
    p.mutable_data_param()->set_batch_size(2);
    Run run(p);
    CHECK(run.shapes[0] == Shape{2, 1, 2, 2});
  }
}

TEST_CASE("Data layer applies transform_param to uint8 legacy records", "[data][layer]") {
  TempDir t;
  const fs::path db = t.path / "db";
  {
    LmdbWriter w(db);
    for (int r = 0; r < 2; ++r) {
      ufw::Datum d;  // legacy Caffe: channels/height/width + uint8 bytes, no dtype, no shape
      d.set_channels(1), d.set_height(4), d.set_width(4), d.set_label(r);
      std::string bytes(16, '\0');
      for (int i = 0; i < 16; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>(r * 16 + i);
      d.set_data(bytes);
      w.put_value(d.SerializeAsString());
    }
  }
  Run run(parse_layer(data_layer_text(db, "transform_param { transform_op { op: CROP crop_h: 2 crop_w: 2 } "
                                          "transform_op { op: STAND mean_value: 5 scale: 0.5 } }")));
  CHECK(run.shapes[0] == Shape{1, 2, 2});
  run.forward();
  CHECK(std::vector<float>(run.tops[0].data(), run.tops[0].data() + 4) == std::vector<float>{0, 0.5, 2, 2.5});
  run.forward();
  CHECK(run.tops[0][0] == Approx((21 - 5) * 0.5));
  CHECK(run.tops[1][0] == 1);
}

TEST_CASE("Data layer errors", "[data][layer]") {
  TempDir t;
  SECTION("a record of another shape names both shapes") {
    const fs::path db = t.path / "db";
    {
      LmdbWriter w(db);
      w.put(Sample::from<float>({1, 2, 2}, {1, 2, 3, 4}, DType::F32));
      w.put(Sample::from<float>({1, 3, 3}, std::vector<float>(9, 0.f), DType::F32));
    }
    Run run(parse_layer(data_layer_text(db, "", false)));
    run.forward();
    CHECK_THROWS_WITH(run.forward(), Catch::Contains("[1,3,3]") && Catch::Contains("[1,2,2]") &&
                                         Catch::Contains("0000000001__"));
  }
  SECTION("a corrupt record names the LMDB and key") {
    const fs::path db = t.path / "db";
    {
      LmdbWriter w(db);
      w.put(Sample::from<float>({2}, {1, 2}, DType::F32));
      ufw::Datum d;
      d.mutable_shape()->add_dim(4);
      d.set_data("abc");  // 3 bytes for 4 uint8 elements
      w.put_value(d.SerializeAsString(), "broken");
    }
    Run run(parse_layer(data_layer_text(db, "", false)));
    run.forward();
    CHECK_THROWS_WITH(run.forward(), Catch::Contains(db.string()) && Catch::Contains("0000000001__broken") &&
                                         Catch::Contains("needs 4 bytes"));
  }
  SECTION("missing source, mixed transform styles, LEVELDB, empty LMDB") {
    LayerRegistry reg;
    register_data_layers(reg);
    CHECK_THROWS_WITH(reg.create(parse_layer("name: 'd' type: 'Data' top: 'data'")), Catch::Contains("data_param.source"));
    CHECK_THROWS_WITH(reg.create(parse_layer(data_layer_text(t.path, "transform_param { scale: 2 transform_op { op: STAND } }"))),
                      Catch::Contains("layer data") && Catch::Contains("mixes"));
    auto lv = parse_layer(data_layer_text(t.path));
    lv.mutable_data_param()->set_backend(ufw::DataParameter::LEVELDB);
    CHECK_THROWS_AS(reg.create(lv), UnsupportedError);
    auto l = reg.create(parse_layer(data_layer_text(t.path / "nothere")));
    CHECK_THROWS_WITH(l->reshape({}), Catch::Contains("no such LMDB folder"));
    { LmdbWriter w(t.path / "empty"); }
    auto e = reg.create(parse_layer(data_layer_text(t.path / "empty")));
    CHECK_THROWS_WITH(e->reshape({}), Catch::Contains("empty"));
  }
}

TEST_CASE("make_data_layer builds the -D Data layer", "[data][layer]") {
  auto l = make_data_layer("/x/lmdb", "input");
  CHECK(l.type() == "Data");
  CHECK(l.name() == "input");
  REQUIRE(l.top_size() == 1);
  CHECK(l.top(0) == "input");
  CHECK(l.data_param().source() == "/x/lmdb");
  CHECK(l.data_param().has_batch_size());
  CHECK(l.data_param().batch_size() == 0);
  CHECK(l.data_param().backend() == ufw::DataParameter::LMDB);
  REQUIRE(l.include_size() == 1);
  CHECK(l.include(0).phase() == ufw::TEST);
  std::string text;
  google::protobuf::TextFormat::PrintToString(l, &text);
  CHECK(text.find("batch_size: 0") != std::string::npos);

  TempDir t;
  auto nchw = write_float_lmdb(t.path / "nchw", 2, {1, 1, 2, 3});
  CHECK(make_data_layer(nchw.string(), "input", {1, 1, 2, 3}).data_param().batch_size() == 0);
  auto chw = write_float_lmdb(t.path / "chw", 2, {1, 2, 3});
  CHECK(make_data_layer(chw.string(), "input", {4, 1, 2, 3}).data_param().batch_size() == 4);
  CHECK_THROWS_WITH(make_data_layer(chw.string(), "input", {1, 3, 2, 3}),
                    Catch::Contains("[1,2,3]") && Catch::Contains("[1,3,2,3]") && Catch::Contains("'input'"));
}

TEST_CASE("Data layer decodes legacy encoded records", "[data][layer]") {
  TempDir t;
  const fs::path db = t.path / "db";
  {
    cv::Mat img(3, 5, CV_8UC3, cv::Scalar(10, 20, 30));
    std::vector<unsigned char> png;
    REQUIRE(cv::imencode(".png", img, png));
    ufw::Datum d;
    d.set_channels(3), d.set_height(3), d.set_width(5);
    d.set_data(std::string(png.begin(), png.end()));
    d.set_encoded(true);
    d.set_label(2);
    LmdbWriter w(db);
    w.put_value(d.SerializeAsString());
  }
  Run run(parse_layer(data_layer_text(db)));
  CHECK(run.shapes[0] == Shape{3, 3, 5});
  run.forward();
  CHECK(run.tops[0][0] == 10);
  CHECK(run.tops[0][15] == 20);
  CHECK(run.tops[0][30] == 30);
  CHECK(run.tops[1][0] == 2);
  Run gray(parse_layer(data_layer_text(db, "transform_param { force_gray: true }")));
  CHECK(gray.shapes[0] == Shape{1, 3, 5});
}

TEST_CASE("AnnotatedData reads the Datum inside each AnnotatedDatum", "[data][layer]") {
  TempDir t;
  const fs::path db = t.path / "db";
  {
    LmdbWriter w(db);
    for (int r = 0; r < 2; ++r) {
      ufw::AnnotatedDatum a;
      a.set_type(ufw::AnnotatedDatum::BBOX);
      auto* d = a.mutable_datum();
      d->mutable_shape()->add_dim(1), d->mutable_shape()->add_dim(2);
      d->add_float_data(static_cast<float>(r)), d->add_float_data(5.f);
      d->set_dtype(ufw::BlobProto::FP32);
      auto* g = a.add_annotation_group();
      g->set_group_label(1);
      g->add_annotation()->mutable_bbox()->set_xmin(0.1f);
      w.put_value(a.SerializeAsString());
    }
  }
  auto p = parse_layer("name: 'data' type: 'AnnotatedData' top: 'data' data_param { source: '" + db.string() +
                 "' batch_size: 0 }");
  Run run(p);
  CHECK(run.shapes[0] == Shape{1, 2});
  run.forward();
  run.forward();
  CHECK(run.tops[0][0] == 1.f);
  CHECK(run.tops[0][1] == 5.f);
}
