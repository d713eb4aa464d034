// create_lmdb: images / IDX / npy -> a calibration LMDB in the ufwio layout (docs/data.md).
#include <iostream>

#include "octet/core/flags.hpp"
#include "octet/data/convert.hpp"

using octet::cli::FlagKind;

namespace {

std::vector<float> floats(const octet::cli::Flags& f, const std::string& name) {
  std::vector<float> out;
  for (const auto& s : f.list(name)) {
    try {
      size_t used = 0;
      out.push_back(std::stof(s, &used));
      if (used != s.size()) throw std::invalid_argument(s);
    } catch (const std::exception&) {
      throw octet::UsageError("create_lmdb: flag --" + name + ": '" + s + "' is not a number");
    }
  }
  if (out.size() != 0 && out.size() != 1 && out.size() != 3 && out.size() != 4)
    throw octet::UsageError("create_lmdb: flag --" + name + " takes 1 value or one per channel");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    octet::cli::Flags f(
        "create_lmdb",
        {{"imageset_rootfolder", FlagKind::String, "", "folder of jpg/jpeg/png/bmp images (labels: sorted sub-folders)"},
         {"list", FlagKind::String, "", "list file of 'relative/path label' lines (with --imageset_rootfolder)"},
         {"idx", FlagKind::String, "", "IDX image file (MNIST/Fashion-MNIST, .gz ok)"},
         {"idx_labels", FlagKind::String, "", "IDX label file for --idx"},
         {"npy", FlagKind::String, "", ".npy tensor, N-first: one record per row"},
         {"imageset_lmdbfolder", FlagKind::String, "", "output LMDB folder (default: the image root folder)"},
         {"resize_height", FlagKind::Int, "0", "resize height (0 = keep), OpenCV INTER_LINEAR"},
         {"resize_width", FlagKind::Int, "0", "resize width (0 = keep)"},
         {"shuffle", FlagKind::Bool, "false", "shuffle the order (seeded, reproducible)"},
         {"seed", FlagKind::Int, "3", "shuffle seed"},
         {"bgr2rgb", FlagKind::Bool, "false", "swap channels after decoding (OpenCV decodes BGR)"},
         {"gray", FlagKind::Bool, "false", "decode / convert to one channel"},
         {"mean", FlagKind::String, "", "mean, one value or one per channel: stored = (pixel - mean) * scale"},
         {"scale", FlagKind::String, "", "scale, one value or one per channel"},
         {"dtype", FlagKind::String, "float32", "stored element type: float32 | uint8"},
         {"batch_dim", FlagKind::Bool, "false", "store each sample as [1,C,H,W] (fits batch_size: 0 on an NCHW net)"},
         {"limit", FlagKind::Int, "0", "at most N records (0 = all)"},
         {"offset", FlagKind::Int, "0", "skip the first N (after shuffling)"},
         {"commit_every", FlagKind::Int, "100", "records per LMDB transaction"},
         {"strict", FlagKind::Bool, "false", "an unreadable image is an error instead of a skip"}});
    f.parse(argc, argv);
    if (f.help()) {
      std::cout << f.usage();
      return 0;
    }
    if (!f.positional().empty()) throw octet::UsageError("create_lmdb: unexpected argument '" + f.positional()[0] + "'");
    octet::data::ConvertOptions o;
    o.image_root = f.str("imageset_rootfolder");
    o.image_list = f.str("list");
    o.idx = f.str("idx");
    o.idx_labels = f.str("idx_labels");
    o.npy = f.str("npy");
    o.output = f.str("imageset_lmdbfolder");
    o.resize_h = static_cast<int>(f.integer("resize_height"));
    o.resize_w = static_cast<int>(f.integer("resize_width"));
    o.shuffle = f.boolean("shuffle");
    o.seed = static_cast<uint32_t>(f.integer("seed"));
    o.bgr2rgb = f.boolean("bgr2rgb");
    o.gray = f.boolean("gray");
    o.strict = f.boolean("strict");
    o.batch_dim = f.boolean("batch_dim");
    o.mean = floats(f, "mean");
    o.scale = floats(f, "scale");
    o.dtype = octet::data::dtype_from_name(f.str("dtype"));
    o.limit = f.integer("limit");
    o.offset = f.integer("offset");
    if (f.integer("commit_every") < 1) throw octet::UsageError("create_lmdb: --commit_every must be >= 1");
    o.writer.commit_every = static_cast<size_t>(f.integer("commit_every"));
    const auto st = octet::data::convert_to_lmdb(o);
    if (st.skipped)
      std::cerr << "warning: skipped " << st.skipped << " unreadable image" << (st.skipped > 1 ? "s" : "")
                << " (first: " << st.first_skipped << "); --strict makes this an error\n";
    std::cout << "create_lmdb: wrote " << st.written << " records to " << st.output << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
