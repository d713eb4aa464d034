// Command-line flags as NNTC users type them, for every Octet tool.
//
// Accepted spellings (gflags and argparse styles mixed, as users of the reference tools do):
//   -flag=value  --flag=value  -flag value  --flag value
//   bools: -flag  --flag  -flag=true|false|True|False|1|0  -flag true  (a following boolean
//   word is taken as the value; any other following token is left alone)
// Short argparse flags (-m, -s, -D) are ordinary flags with one-letter names.
// Tokens that are not flags are positionals (the first is usually the sub-command).
// Unknown flags and bad values are UsageError naming the flag. Lists split on commas only,
// keeping spaces (PyTorch layer names contain spaces). `-h`/`-help`/`--help` set help().
//
//   octet::cli::Flags f("ufw", {{"model", FlagKind::String, "", "net prototxt"},
//                              {"weights", FlagKind::String, "", "weights", {"weight"}},
//                              {"iters", FlagKind::Int, "50", "timed iterations"}});
//   f.parse(argc, argv);
//   if (f.help()) { std::cout << f.usage(); return 0; }
//   int64_t n = f.integer("iters");
//
// Depends only on core/error.hpp.
#pragma once
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "octet/core/error.hpp"

namespace octet::cli {

enum class FlagKind { String, Int, Float, Bool };

struct FlagSpec {
  std::string name;
  FlagKind kind = FlagKind::String;
  std::string default_value;
  std::string help;
  std::vector<std::string> aliases = {};
};

inline bool parse_bool_word(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "TRUE" || s == "1") return out = true, true;
  if (s == "false" || s == "False" || s == "FALSE" || s == "0") return out = false, true;
  return false;
}

// Splits on commas only; empty input gives an empty list.
inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

class Flags {
 public:
  Flags(std::string program, std::vector<FlagSpec> specs) : program_(std::move(program)), specs_(std::move(specs)) {
    for (size_t i = 0; i < specs_.size(); ++i) {
      index_[specs_[i].name] = i;
      for (const auto& a : specs_[i].aliases) index_[a] = i;
    }
  }

  void parse(int argc, const char* const* argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    parse(args);
  }

  void parse(const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& tok = args[i];
      if (tok.size() < 2 || tok[0] != '-' || is_number(tok)) {
        positional_.push_back(tok);
        continue;
      }
      std::string body = tok.substr(tok[1] == '-' ? 2 : 1);
      std::string value;
      bool has_value = false;
      if (auto eq = body.find('='); eq != std::string::npos) {
        value = body.substr(eq + 1);
        body = body.substr(0, eq);
        has_value = true;
      }
      if (body == "h" || body == "help") {
        help_ = true;
        continue;
      }
      auto it = index_.find(body);
      if (it == index_.end()) throw UsageError(program_ + ": unknown flag '" + tok + "' (see --help)");
      const FlagSpec& spec = specs_[it->second];
      if (spec.kind == FlagKind::Bool) {
        bool b = true;
        if (has_value) {
          if (!parse_bool_word(value, b))
            throw UsageError(program_ + ": flag -" + spec.name + ": '" + value + "' is not a boolean");
        } else if (i + 1 < args.size() && parse_bool_word(args[i + 1], b)) {
          ++i;
        }
        values_[spec.name] = b ? "true" : "false";
        continue;
      }
      if (!has_value) {
        if (i + 1 >= args.size()) throw UsageError(program_ + ": flag -" + spec.name + " needs a value");
        value = args[++i];
      }
      check_value(spec, value);
      values_[spec.name] = value;
    }
  }

  bool help() const { return help_; }
  bool has(const std::string& name) const { return values_.count(spec(name).name) != 0; }

  std::string str(const std::string& name) const {
    const FlagSpec& s = spec(name);
    auto it = values_.find(s.name);
    return it == values_.end() ? s.default_value : it->second;
  }
  int64_t integer(const std::string& name) const {
    const std::string v = str(name);
    return v.empty() ? 0 : std::stoll(v);
  }
  double real(const std::string& name) const {
    const std::string v = str(name);
    return v.empty() ? 0.0 : std::stod(v);
  }
  bool boolean(const std::string& name) const {
    bool b = false;
    parse_bool_word(str(name), b);
    return b;
  }
  std::vector<std::string> list(const std::string& name) const { return split_commas(str(name)); }

  // Value of a required string flag, or UsageError naming it.
  std::string required(const std::string& name) const {
    std::string v = str(name);
    if (v.empty()) throw UsageError(program_ + ": flag -" + spec(name).name + " is required");
    return v;
  }

  const std::vector<std::string>& positional() const { return positional_; }

  std::string usage() const {
    std::ostringstream os;
    os << "usage: " << program_ << " [flags]\n";
    for (const auto& s : specs_) {
      os << "  -" << s.name;
      for (const auto& a : s.aliases) os << " | -" << a;
      if (s.kind != FlagKind::Bool) os << "=<" << kind_name(s.kind) << ">";
      os << "    " << s.help;
      if (!s.default_value.empty()) os << " (default " << s.default_value << ")";
      os << "\n";
    }
    return os.str();
  }

 private:
  static bool is_number(const std::string& t) {
    char* end = nullptr;
    std::strtod(t.c_str(), &end);
    return end != t.c_str() && *end == '\0';
  }
  static const char* kind_name(FlagKind k) {
    switch (k) {
      case FlagKind::Int: return "int";
      case FlagKind::Float: return "float";
      case FlagKind::Bool: return "bool";
      default: return "string";
    }
  }
  void check_value(const FlagSpec& s, const std::string& v) const {
    if (s.kind != FlagKind::Int && s.kind != FlagKind::Float) return;
    char* end = nullptr;
    if (s.kind == FlagKind::Int)
      std::strtoll(v.c_str(), &end, 10);
    else
      std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0')
      throw UsageError(program_ + ": flag -" + s.name + ": '" + v + "' is not a valid " + kind_name(s.kind));
  }
  const FlagSpec& spec(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw Error("internal: flag '" + name + "' was never declared");
    return specs_[it->second];
  }

  std::string program_;
  std::vector<FlagSpec> specs_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace octet::cli
