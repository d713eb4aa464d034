#include <catch2/catch.hpp>
#include <string>

#include "octet/eval/report.hpp"
#include "octet/eval/report_html.hpp"
#include "synthetic_report.hpp"

using namespace octet::eval;

TEST_CASE("report: damage ranks the clipping layer first, flags only int8 layers below the bar") {
  const Report r = testing::synthetic_report();
  const auto order = r.damage_order();
  REQUIRE(order.size() == 5);
  CHECK(r.layers[order[0]].layer == "conv3");
  CHECK(r.layers[2].flagged);
  CHECK_FALSE(r.layers[0].flagged);            // noise 0.01 on amplitude 3: cosine > 0.99999
  CHECK_FALSE(r.layers[3].flagged);            // all zero: undefined, not flagged
  CHECK(r.layers[3].damage == 0.0);
  CHECK_FALSE(r.layers[4].flagged);            // float fallback
  CHECK(r.layers[2].saturation().value() > 0.5);
  // conv3 clips at T = 1 on a +-3 signal: the suggestion is about the threshold, then float.
  CHECK(r.layers[2].suggestion.find("clips") != std::string::npos);
  CHECK(r.layers[2].suggestion.find("-fpfwd_blocks=conv3") != std::string::npos);
}

TEST_CASE("report: outliers and per-tensor weights get their own suggestions") {
  LayerReport L;
  L.layer = "c";
  L.type = "Convolution";
  std::vector<float> ref(1000, 0.1f), test(1000, 0.1f);
  ref[0] = test[0] = 50.0f;
  L.acc.add(ref, test);
  L.threshold = 50.0;
  L.total = 1000;
  L.weighted = true;
  L.per_channel = false;
  L.weight_channel_ratio = 12.0;
  const std::string s = suggest(L);
  CHECK(s.find("outliers") != std::string::npos);
  CHECK(s.find("-th_method=KL") != std::string::npos);
  CHECK(s.find("-per_channel=true") != std::string::npos);
  L.per_channel = true;
  CHECK(suggest(L).find("-per_channel") == std::string::npos);
}

TEST_CASE("report: accumulated damage without own error is the drop from the input") {
  Report r;
  LayerReport a, b;
  std::vector<float> x{1, 2, 3, 4}, y{1, 2, 3, 3.5f}, z{1, 2, 1, 4};
  a.layer = a.blob = "a";
  a.acc.add(x, y);
  b.layer = b.blob = "b";
  b.bottoms = {"a"};
  b.acc.add(x, z);
  r.layers = {a, b};
  finalize(r);
  CHECK(r.layers[0].damage == Approx(1 - *a.acc.cosine()));
  CHECK(r.layers[1].damage == Approx(*a.acc.cosine() - *b.acc.cosine()));
  CHECK(r.layers[1].input_cos == a.acc.cosine());
}

TEST_CASE("report: own damage subtracts what the producer's grid already costs") {
  // p clips (own cos low); c reads p's grid, so its own run inherits that, plus a little.
  Report r;
  LayerReport p, c;
  std::vector<float> x{1, 2, 3, 4}, px{1, 2, 2, 2}, cx{1, 2, 2, 1.9f};
  p.layer = p.blob = "p";
  p.acc.add(x, px);
  p.own = p.acc;
  c.layer = c.blob = "c";
  c.bottoms = {"p"};
  c.acc.add(x, cx);
  c.own = c.acc;
  r.layers = {p, c};
  finalize(r);
  CHECK(r.layers[0].damage == Approx(1 - *p.own->cosine()));
  CHECK(r.layers[1].damage == Approx(*p.own->cosine() - *c.own->cosine()));
  CHECK(r.damage_order()[0] == 0);
  CHECK(r.layers[0].flagged);
}

TEST_CASE("report: JSON has null for undefined metrics, \"inf\" for exact layers, never NaN") {
  Report r = testing::synthetic_report();
  LayerReport exact;
  exact.layer = "exact";
  std::vector<float> v{1, 2};
  exact.acc.add(v, v);
  r.layers.push_back(exact);
  finalize(r);
  const std::string j = to_json(r);
  CHECK(j.find("NaN") == std::string::npos);
  CHECK(j.find("nan") == std::string::npos);
  CHECK(j.find("\"sqnr_db\":\"inf\"") != std::string::npos);
  CHECK(j.find("\"cos\":null") != std::string::npos);  // the dead layer
  CHECK(j.find("\"fpfwd_blocks\":\"conv3\"") != std::string::npos);
  // HTML-unsafe characters in names cannot end the script block.
  CHECK(j.find("<for tests>") == std::string::npos);
  CHECK(j.find("\\u003cfor tests\\u003e") != std::string::npos);
}

TEST_CASE("report: text table lists every layer sorted by damage and the search line") {
  const Report r = testing::synthetic_report();
  const std::string t = format_table(r);
  const auto p3 = t.find("conv3"), p1 = t.find("conv1");
  REQUIRE(p3 != std::string::npos);
  REQUIRE(p1 != std::string::npos);
  CHECK(p3 < p1);
  CHECK(t.find("undef") != std::string::npos);
  CHECK(t.find("<< LOW") != std::string::npos);
  const std::string s = format_summary(r);
  CHECK(s.find("-fpfwd_blocks=conv3") != std::string::npos);
  CHECK(s.find("top-1 fp32 0.9100 int8 0.6200") != std::string::npos);
  Report met = r;
  met.search->steps.clear();
  met.search->base_cos = 0.995;
  met.search->reached = true;
  const std::string m = format_summary(met);
  CHECK(m.find("already meets the target 0.99: no float layers needed") != std::string::npos);
  CHECK(m.find("-fpfwd_blocks=") == std::string::npos);
}

TEST_CASE("report: the HTML page is self-contained and carries every section") {
  const std::string h = report_html(testing::synthetic_report());
  for (const char* id : {"summary", "network", "ranking", "sqnr", "hist", "scatter", "search", "js-errors"})
    CHECK(h.find(std::string("id=\"") + id + "\"") != std::string::npos);
  CHECK(h.find("http://") == h.find("http://www.w3.org/2000/svg"));  // the SVG namespace only
  CHECK(h.find("https://") == std::string::npos);
  CHECK(h.find("src=") == std::string::npos);
}
