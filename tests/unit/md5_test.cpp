// detail/md5.hpp: the one-lane and eight-lane MD5 against OpenSSL's MD5() and RFC 1321.
#include <meta_memcache/detail/md5.hpp>

#include "catch.hpp"

#define OPENSSL_SUPPRESS_DEPRECATED  // MD5(): the reference the library's MD5 is checked against
#include <openssl/md5.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace md = meta_memcache::detail;

namespace {

md::Md5Digest openssl_md5(std::string_view s) {
    md::Md5Digest d{};
    MD5(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
    return d;
}

/// The digest as RFC 1321 prints it.
constexpr std::array<char, 32> hex(const md::Md5Digest& d) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::array<char, 32> out{};
    for (std::size_t i = 0; i < 16; ++i) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 0xF];
    }
    return out;
}

constexpr bool md5_is(std::string_view message, std::string_view expected) {
    const auto h = hex(md::md5(message));
    return std::string_view(h.data(), h.size()) == expected;
}

/// splitmix64: a small seeded generator, so a failure names a reproducible key.
struct Random {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15U);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9U;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebU;
        return z ^ (z >> 31);
    }
    /// `n` random bytes of any value.
    void fill(std::string& s, std::size_t n) {
        s.resize(n);
        for (std::size_t i = 0; i < n; i += 8) {
            const std::uint64_t v = next();
            for (std::size_t j = i; j < n && j < i + 8; ++j)
                s[j] = static_cast<char>(v >> (8 * (j - i)));
        }
    }
};

/// How many of `lanes` the eight-lane MD5 gets wrong (against OpenSSL): md5x8, as the ring
/// calls it, and with `also_baseline` the baseline form it would otherwise dispatch to.
int eight_lane_mismatches(const std::array<std::string_view, 8>& lanes, bool also_baseline) {
    md::Md5Digest want[8];
    for (std::size_t i = 0; i < 8; ++i)
        want[i] = openssl_md5(lanes[i]);
    int bad = 0;
    md::Md5Digest got[8];
    md::md5x8(lanes, got);
    for (std::size_t i = 0; i < 8; ++i)
        bad += got[i] != want[i] ? 1 : 0;
#ifdef META_MEMCACHE_MD5X8_DISPATCH
    if (also_baseline) {
        const md::Md5x8Words w = md::md5x8_words_baseline(lanes);
        for (std::size_t i = 0; i < 8; ++i)
            bad += md::md5_digest({w[0][i], w[1][i], w[2][i], w[3][i]}) != want[i] ? 1 : 0;
    }
#else
    (void)also_baseline;  // md5x8 is the baseline
#endif
    return bad;
}

}  // namespace

TEST_CASE("MD5 gives RFC 1321's test-suite digests, at compile time too", "[ring][hash][md5]") {
    STATIC_REQUIRE(md5_is("", "d41d8cd98f00b204e9800998ecf8427e"));
    STATIC_REQUIRE(md5_is("a", "0cc175b9c0f1b6a831c399e269772661"));
    STATIC_REQUIRE(md5_is("abc", "900150983cd24fb0d6963f7d28e17f72"));
    STATIC_REQUIRE(md5_is("message digest", "f96b697d7cb7938d525a2f31aaf161d0"));
    STATIC_REQUIRE(md5_is("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"));
    STATIC_REQUIRE(md5_is("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                          "d174ab98d277d9f5a5611c2c9f419d9f"));
    STATIC_REQUIRE(
        md5_is("1234567890123456789012345678901234567890123456789012345678901234567890"
               "1234567890",
               "57edf4a22be3c955ac49da2e2107b67a"));
}

TEST_CASE("MD5 of every length from 0 to 200 bytes matches OpenSSL's, one lane and eight",
          "[ring][hash][md5]") {
    Random random{200};
    std::string message;
    random.fill(message, 200);
    const std::string_view all(message);
    for (std::size_t n = 0; n <= 200; ++n) {
        INFO("length " << n);
        CHECK(md::md5(all.substr(0, n)) == openssl_md5(all.substr(0, n)));
        // Every length in every lane, next to other lengths (1, 2 and 4 blocks at once).
        std::array<std::string_view, 8> lanes{};
        for (std::size_t i = 0; i < 8; ++i)
            lanes[i] = all.substr(i, (n + 29 * i) % (201 - i));
        CHECK(eight_lane_mismatches(lanes, true) == 0);
    }
}

TEST_CASE("MD5 of a million random keys of 0 to 300 bytes matches OpenSSL's, one lane and eight",
          "[ring][hash][md5]") {
    // Keys are slices, at random offsets and of random lengths, of 4 MiB of random bytes:
    // every byte value and every alignment, without building a million strings.
    Random random{20240611};
    std::string pool;
    random.fill(pool, std::size_t{4} << 20);
    const std::string_view bytes(pool);
    std::size_t one_lane_bad = 0;
    std::size_t eight_lane_bad = 0;
    std::size_t bad_length = 0;
    for (int group = 0; group < 1'000'000 / 8; ++group) {
        std::array<std::string_view, 8> lanes{};
        for (auto& key : lanes) {
            const std::uint64_t r = random.next();
            key = bytes.substr((r >> 16) % (bytes.size() - 300), (r & 0xFFFF) % 301);
            if (md::md5(key) != openssl_md5(key)) {
                ++one_lane_bad;
                bad_length = key.size();
            }
        }
        // The baseline form (run only on CPUs without AVX2) on a quarter of the groups.
        const int bad = eight_lane_mismatches(lanes, group % 4 == 0);
        if (bad != 0) {
            eight_lane_bad += static_cast<std::size_t>(bad);
            bad_length = lanes[0].size();
        }
    }
    INFO("a mismatching key's length: " << bad_length);
    CHECK(one_lane_bad == 0);
    CHECK(eight_lane_bad == 0);
}
