#include <catch2/catch.hpp>

#include <string>

#include "octet/core/sha256.hpp"

using octet::Sha256;

TEST_CASE("sha256: FIPS 180-4 vectors") {
  CHECK(Sha256::hex(Sha256::hash("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256::hex(Sha256::hash("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::hex(Sha256::hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("sha256: million a, streamed in odd chunks, equals one shot") {
  const std::string a(1000000, 'a');
  CHECK(Sha256::hex(Sha256::hash(a)) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 s;
  for (std::size_t i = 0; i < a.size();) {
    const std::size_t n = std::min<std::size_t>(a.size() - i, 1 + (i % 131));
    s.update(a.data() + i, n);
    i += n;
  }
  CHECK(Sha256::hex(s.finish()) == Sha256::hex(Sha256::hash(a)));
}
