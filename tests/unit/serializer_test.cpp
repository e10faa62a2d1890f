#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/values/compression.hpp>
#include <meta_memcache/serializer.hpp>

#include "catch.hpp"
#include "serializer_interop_vectors.hpp"
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace meta_memcache;

// The interop vectors (serializer_interop_vectors.hpp) were made by
// serializer_interop_vectors.py with Debian 12's python3-zstandard 0.20.0 over libzstd 1.5.4,
// configured exactly as meta-memcache-py's ZstdSerializer / ThreadLocalZstdManager
// configure it (level 9, magicless, content size, no checksum, dictionary id), and zlib
// streams from Python's zlib.compress, as its MixedSerializer writes them. The two
// dictionaries (ids 1001 and 1002) were trained there with zstandard.train_dictionary.

namespace {

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

Key domain_key(std::string domain) {
    return Key("k", "", std::move(domain));
}

Key uncompressed_key() {
    return Key("k", "", "", /*disable_compression=*/true);
}

// A magicless zstd frame header, read per RFC 8878 section 3.1.1.1 (no magic number).
struct FrameHeader {
    bool checksum = false;
    bool has_content_size = false;
    std::uint64_t content_size = 0;
    std::uint32_t dictionary_id = 0;
};

std::uint64_t little_endian(std::string_view bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = bytes.size(); i > 0; --i) {
        v = (v << 8U) | static_cast<unsigned char>(bytes[i - 1]);
    }
    return v;
}

FrameHeader parse_frame_header(std::string_view frame) {
    REQUIRE(!frame.empty());
    const auto descriptor = static_cast<unsigned char>(frame[0]);
    const unsigned fcs_flag = descriptor >> 6U;
    const bool single_segment = ((descriptor >> 5U) & 1U) != 0;
    const unsigned dict_flag = descriptor & 3U;
    FrameHeader h;
    h.checksum = ((descriptor >> 2U) & 1U) != 0;
    std::size_t pos = 1 + (single_segment ? 0 : 1);
    const std::size_t dict_size = dict_flag == 3 ? 4 : dict_flag;
    const std::size_t fcs_size =
        fcs_flag == 0 ? (single_segment ? 1 : 0) : (std::size_t{1} << fcs_flag);
    REQUIRE(frame.size() >= pos + dict_size + fcs_size);
    h.dictionary_id = static_cast<std::uint32_t>(little_endian(frame.substr(pos, dict_size)));
    pos += dict_size;
    h.has_content_size = fcs_size != 0;
    h.content_size = little_endian(frame.substr(pos, fcs_size)) + (fcs_size == 2 ? 256 : 0);
    return h;
}

bool starts_with_zstd_magic(std::string_view frame) {
    return frame.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4);
}

// A user type, as the ValueCodec documentation shows.
struct Point {
    int x = 0;
    int y = 0;
    friend bool operator==(const Point&, const Point&) = default;
};

}  // namespace

template <>
struct meta_memcache::ValueCodec<Point> {
    static constexpr std::uint32_t flag = value_flag::binary;

    static EncodedValue encode(const Point& p) {
        return EncodedValue::owned(fmt::format("{},{}", p.x, p.y), flag);
    }
    static std::optional<Point> decode(std::string_view bytes, std::uint32_t type_flag) {
        Point p;
        const auto comma = bytes.find(',');
        if (type_flag != flag || comma == std::string_view::npos) {
            return std::nullopt;
        }
        const char* end = bytes.data() + bytes.size();
        const auto [end_x, ex] = std::from_chars(bytes.data(), bytes.data() + comma, p.x);
        const auto [end_y, ey] = std::from_chars(bytes.data() + comma + 1, end, p.y);
        if (ex != std::errc() || ey != std::errc() || end_x != bytes.data() + comma ||
            end_y != end) {
            return std::nullopt;
        }
        return p;
    }
};

// A user type whose codec wrongly claims a compression bit.
struct BadFlag {};
template <>
struct meta_memcache::ValueCodec<BadFlag> {
    static EncodedValue encode(const BadFlag&) { return EncodedValue::borrowed("x", 16 | 8); }
};

// A user type whose codec returns the chunked-value bit, and one that declares it.
struct ChunkFlag {};
template <>
struct meta_memcache::ValueCodec<ChunkFlag> {
    static EncodedValue encode(const ChunkFlag&) {
        return EncodedValue::borrowed("x", value_flag::chunked | 16);
    }
};
struct DeclaresChunkFlag {};
template <>
struct meta_memcache::ValueCodec<DeclaresChunkFlag> {
    static constexpr std::uint32_t flag = value_flag::chunked;
    static EncodedValue encode(const DeclaresChunkFlag&) {
        return EncodedValue::borrowed("", flag);
    }
};
// A codec that declares a reserved flag is refused at compile time (Serializer::encode and
// CacheClient::set static_assert on this); one without a `flag` member is checked at run time.
static_assert(!codec_flag_allowed<DeclaresChunkFlag>);
static_assert(codec_flag_allowed<ChunkFlag> && codec_flag_allowed<std::string>);
static_assert(value_flag::reserved_mask == (8U | 32U | 4096U));

// What has a codec: bool, floating point and characters do not (Python pickles bool and
// float; a char is rarely meant as a number); views write but do not read.
static_assert(!Encodable<bool> && !Decodable<bool>);
static_assert(!Encodable<double> && !Encodable<char> && !Encodable<char8_t>);
static_assert(Encodable<std::int8_t> && Decodable<std::uint8_t>);
static_assert(Encodable<std::string_view> && !Decodable<std::string_view>);
static_assert(Encodable<codec_type_t<const char (&)[4]>> && Encodable<codec_type_t<char*>>);
static_assert(Encodable<Point> && Decodable<Point> && Encodable<Text> && Decodable<Text>);

// ---- type mapping ------------------------------------------------------------------------

TEST_CASE("byte strings are written with flag 16 and read back from flags 0 and 16",
          "[serializer]") {
    const Serializer s;
    const std::string owned = "hello";
    const std::string_view view = "world";
    CHECK(s.encode("k", owned).client_flag() == value_flag::binary);
    CHECK(s.encode("k", view).client_flag() == value_flag::binary);
    CHECK(s.encode("k", "literal").client_flag() == value_flag::binary);
    CHECK(s.encode("k", "literal").data() == "literal");
    const char* c_string = "c string";
    CHECK(s.encode("k", c_string).data() == "c string");
    CHECK_THROWS_AS(s.encode("k", static_cast<const char*>(nullptr)), InvalidInputError);

    const auto v = s.encode("k", owned);
    CHECK(s.decode<std::string>(v.data(), v.client_flag()) == "hello");
    CHECK(s.decode<std::string>("from str", value_flag::str) == "from str");
    CHECK(s.decode<std::string>(std::string_view("\0\xff", 2), 16) == std::string("\0\xff", 2));
}

TEST_CASE("the reference wire vectors of meta-memcache-py hold", "[serializer][interop]") {
    const Serializer s;
    // "bar" (Python str) -> F0, 123 -> F2, b"123" -> F16
    const auto bar = s.encode("foo", TextView{"bar"});
    CHECK(bar.client_flag() == 0);
    CHECK(bar.data() == "bar");
    const auto number = s.encode("foo", 123);
    CHECK(number.client_flag() == 2);
    CHECK(number.data() == "123");
    const auto bytes = s.encode("foo", std::string_view("123"));
    CHECK(bytes.client_flag() == 16);
    CHECK(bytes.data() == "123");

    // b"123"*100 -> F24 (zlib, as MixedSerializer and ZstdSerializer(default_zstd=False)
    // write it); F48 with zstd, ZstdSerializer's default.
    const std::string long_value = repeat("123", 100);
    if (Serializer::zlib_available()) {
        const Serializer zlib_mode({.compression = Compression::zlib});
        const auto z = zlib_mode.encode("foo", long_value);
        CHECK(z.client_flag() == 24);
        CHECK(z.data().substr(0, 2) == "\x78\x9c");  // zlib header, default level
        CHECK(s.decode<std::string>(z.data(), z.client_flag()) == long_value);
        CHECK(s.decode<std::string>(interop::repeated_123_zlib, 24) == long_value);
    }
    if (Serializer::zstd_available()) {
        const auto z = Serializer({.compression = Compression::zstd}).encode("foo", long_value);
        CHECK(z.client_flag() == 48);
        CHECK(s.decode<std::string>(z.data(), z.client_flag()) == long_value);
        CHECK(s.decode<std::string>(interop::repeated_123_zstd, 48) == long_value);
    }
}

TEMPLATE_TEST_CASE("integers round-trip as decimal ASCII with flag 2",
                   "[serializer]",
                   signed char,
                   unsigned char,
                   short,
                   unsigned short,
                   int,
                   unsigned,
                   long,
                   unsigned long,
                   long long,
                   unsigned long long) {
    const Serializer s;
    using limits = std::numeric_limits<TestType>;
    for (const TestType v : {limits::min(), limits::max(), TestType{0}, TestType{42}}) {
        const auto e = s.encode("k", v);
        CHECK(e.client_flag() == value_flag::integer);
        CHECK(!e.is_borrowed());
        CHECK(e.data() == std::to_string(v));
        CHECK(s.decode<TestType>(e.data(), e.client_flag()) == v);
    }
}

TEST_CASE("an integer is read from flags 2, 4, 0 and 16, with ASCII whitespace around",
          "[serializer]") {
    const Serializer s;
    CHECK(s.decode<std::int64_t>("-9223372036854775808", 2) ==
          std::numeric_limits<std::int64_t>::min());
    CHECK(s.decode<int>("77", value_flag::long_integer) == 77);
    // memcached's incr keeps flag 0, and a decrement to fewer digits pads with spaces.
    CHECK(s.decode<int>("5  ", value_flag::str) == 5);
    CHECK(s.decode<std::uint64_t>("18446744073709551615", 0) ==
          std::numeric_limits<std::uint64_t>::max());
    CHECK(s.decode<int>(" \t-7\r\n", value_flag::binary) == -7);
    CHECK(s.decode<int>("+3", value_flag::integer) == 3);
}

TEST_CASE("reading an integer from anything but a decimal integer that fits is a type mismatch",
          "[serializer]") {
    const Serializer s;
    const auto mismatch = [&](std::string_view data, std::uint32_t flag) {
        const auto r = s.try_decode<int>(data, flag);
        CHECK(r.status == DecodeStatus::type_mismatch);
        CHECK(!r.value);
        return r;
    };
    mismatch("abc", value_flag::binary);
    mismatch("12abc", value_flag::integer);
    mismatch("1 2", value_flag::integer);
    mismatch("+-1", value_flag::integer);
    mismatch("", value_flag::integer);
    mismatch("   ", value_flag::str);
    mismatch("99999999999", value_flag::integer);  // does not fit in an int
    CHECK(s.try_decode<unsigned>("-1", 2).status == DecodeStatus::type_mismatch);
    CHECK(s.try_decode<std::int8_t>("128", 2).status == DecodeStatus::type_mismatch);
    // A pickle is opaque: never an integer, even when its bytes look like digits.
    const auto pickle = mismatch("123", value_flag::pickle);
    CHECK_THAT(pickle.error, Catch::Contains("client flag 1 (Python pickle)"));
    mismatch("123", 64);  // a user type's flag

    try {
        (void)s.decode<long>("I42\n.", value_flag::pickle);
        FAIL("expected a TypeMismatchError");
    } catch (const TypeMismatchError& e) {
        CHECK(e.error() == errc::type_mismatch);
        CHECK_THAT(e.what(), Catch::Contains("pickle"));
    }
}

TEST_CASE("pickled values read as bytes but are a type mismatch for typed reads", "[serializer]") {
    const Serializer s;
    // pickle.dumps([1, 2], protocol=5)
    const std::string_view pickled(
        "\x80\x05\x95\x09\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01K\x02"
        "e.",
        20);
    const auto bytes = s.try_decode_bytes(pickled, value_flag::pickle);
    REQUIRE(bytes);
    CHECK(*bytes.value == pickled);
    CHECK(s.try_decode<std::string>(pickled, value_flag::pickle).status ==
          DecodeStatus::type_mismatch);
    CHECK(s.try_decode<Text>(pickled, value_flag::pickle).status == DecodeStatus::type_mismatch);
    // Plain bytes reads take any type flag: integers and user types too.
    CHECK(*s.try_decode_bytes("123", value_flag::integer).value == "123");
    CHECK(*s.try_decode_bytes("1,2", 64).value == "1,2");
}

TEST_CASE("Text is written as Python str (flag 0), must be UTF-8, and reads flag 0 only",
          "[serializer]") {
    const Serializer s;
    const Text text{"\xC3\xBAn\xC3\xAD\xC3\xA7od\xE2\x8D\xB7 \xF0\x9F\x98\x80"};
    const auto e = s.encode("k", text);
    CHECK(e.client_flag() == value_flag::str);
    CHECK(e.is_borrowed());
    CHECK(s.decode<Text>(e.data(), e.client_flag()) == text);
    CHECK(s.decode<std::string>(e.data(), e.client_flag()) == text.value);

    for (const std::string_view bad : {std::string_view("\xff"), std::string_view("\xC0\x80"),
                                       std::string_view("\xED\xA0\x80"),      // a surrogate
                                       std::string_view("\xF4\x90\x80\x80"),  // > U+10FFFF
                                       std::string_view("ab\xE2\x8D")}) {     // truncated
        CHECK_THROWS_AS(s.encode("k", TextView{bad}), InvalidInputError);
        CHECK(s.try_decode<Text>(bad, value_flag::str).status == DecodeStatus::type_mismatch);
    }
    CHECK(s.try_decode<Text>("bytes", value_flag::binary).status == DecodeStatus::type_mismatch);
}

TEST_CASE("empty values decode like any other", "[serializer]") {
    const Serializer s;
    const auto e = s.encode("k", std::string_view{});
    CHECK(e.client_flag() == value_flag::binary);
    CHECK(e.data().empty());
    CHECK(s.decode<std::string>("", value_flag::binary).empty());
    CHECK(s.decode<std::string>("", value_flag::str).empty());
    CHECK(s.decode<Text>("", value_flag::str) == Text{});
    CHECK(s.try_decode<int>("", value_flag::integer).status == DecodeStatus::type_mismatch);
    REQUIRE(s.try_decode_bytes("", value_flag::pickle));

    // With a threshold of 0, compressing an empty value would only grow it: it stays
    // plain. Compressed empty values (as meta-memcache-py writes them) still decode.
    if (Serializer::zstd_available()) {
        const Serializer always({.compression = Compression::zstd, .compression_threshold = 0});
        const auto z = always.encode("k", std::string_view{});
        CHECK(z.client_flag() == value_flag::binary);
        CHECK(z.data().empty());
        const std::string frame = detail::zstd_compress("", 9, nullptr);
        CHECK(always.decode<std::string>(frame, value_flag::binary | value_flag::zstd).empty());
    }
    if (Serializer::zlib_available()) {
        const Serializer always({.compression = Compression::zlib, .compression_threshold = 0});
        const auto z = always.encode("k", TextView{});
        CHECK(z.client_flag() == value_flag::str);
        const std::string stream = detail::zlib_compress("", -1);
        CHECK(always.decode<Text>(stream, value_flag::str | value_flag::zlib) == Text{});
    }
}

TEST_CASE("a value compression would not shrink is stored uncompressed", "[serializer]") {
    const std::string noise = [] {
        std::string n(4096, '\0');
        std::uint64_t x = 88172645463325252ull;
        for (char& c : n) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c = static_cast<char>(x & 0xff);
        }
        return n;
    }();
    for (const auto compression : {Compression::zstd, Compression::zlib}) {
        const Serializer s({.compression = compression});
        const auto e = s.encode("k", noise);
        CHECK_FALSE(e.compressed());
        CHECK(e.client_flag() == value_flag::binary);
        CHECK(e.data() == noise);
    }
}

TEST_CASE("a user type round-trips through its ValueCodec specialization", "[serializer]") {
    const Serializer s;
    const auto e = s.encode("k", Point{-3, 14});
    CHECK(e.client_flag() == value_flag::binary);
    CHECK(e.data() == "-3,14");
    CHECK(s.decode<Point>(e.data(), e.client_flag()) == Point{-3, 14});
    CHECK(s.try_decode<Point>("nope", value_flag::binary).status == DecodeStatus::type_mismatch);
    CHECK(s.try_decode<Point>("1,2", value_flag::str).status == DecodeStatus::type_mismatch);
    CHECK_THROWS_AS(s.encode("k", BadFlag{}), InvalidInputError);
    CHECK_THROWS_WITH(s.encode("k", BadFlag{}), Catch::Contains("reserves"));
    CHECK_THROWS_WITH(s.encode("k", ChunkFlag{}), Catch::Contains("4096"));
}

// ---- allocation --------------------------------------------------------------------------

TEST_CASE("a value below the threshold is encoded as a view of the caller's bytes",
          "[serializer]") {
    const Serializer s;
    const std::string value(127, 'v');
    const auto e = s.encode("k", value);
    CHECK(e.is_borrowed());
    CHECK(e.data().data() == value.data());
    CHECK(e.data().size() == value.size());

    // An integer's digits are held inline: nothing borrowed, nothing allocated.
    const auto n = s.encode("k", std::numeric_limits<std::int64_t>::min());
    CHECK(!n.is_borrowed());
    CHECK(n.data() == "-9223372036854775808");
}

TEST_CASE("moving or copying an encoded value never leaves it viewing freed memory",
          "[serializer]") {
    const std::string caller = "caller's bytes";
    std::vector<EncodedValue> values;
    values.push_back(EncodedValue::borrowed(caller, 16));
    values.push_back(EncodedValue::copy("inline", 2));   // inline buffer
    values.push_back(EncodedValue::owned("short", 16));  // small-string optimisation
    values.push_back(EncodedValue::owned(std::string(1000, 'x'), 48));
    values.push_back(EncodedValue::copy(std::string(100, 'y'), 16));  // too long for inline
    for (int i = 0; i < 100; ++i) {  // reallocations move every element
        values.push_back(EncodedValue::copy(std::to_string(i), 2));
    }
    CHECK(values[0].data().data() == caller.data());
    CHECK(values[1].data() == "inline");
    CHECK(values[2].data() == "short");
    CHECK(values[3].data() == std::string(1000, 'x'));
    CHECK(values[4].data() == std::string(100, 'y'));
    CHECK(values.back().data() == "99");

    EncodedValue moved = std::move(values[2]);
    const EncodedValue copied = values[1];
    values.clear();
    CHECK(moved.data() == "short");
    CHECK(copied.data() == "inline");
    CHECK(std::move(moved).take_string() == "short");
}

// ---- compression -------------------------------------------------------------------------

TEST_CASE("by default values of more than 128 bytes are compressed with zlib, as MixedSerializer",
          "[serializer][zlib][interop]") {
    const Serializer s;
    if (!Serializer::zlib_available()) {
        CHECK(s.options().compression == Compression::none);
        return;
    }
    // meta-memcache-py's default serializer reads zlib (bit 8) and not zstd (bit 32).
    CHECK(s.options().compression == Compression::zlib);
    CHECK(s.options().compression_threshold == 129);
    const std::string at(128, 'a');
    CHECK(s.encode("k", at).client_flag() == value_flag::binary);
    const std::string over(129, 'a');
    const auto z = s.encode("k", over);
    CHECK(z.client_flag() == (value_flag::binary | value_flag::zlib));
    CHECK(detail::zlib_compress(over, -1) == z.data());  // Python's zlib.compress(data)
    // zstd is an explicit choice, with ZstdSerializer's threshold (128 or more).
    if (Serializer::zstd_available()) {
        const Serializer zstd({.compression = Compression::zstd});
        CHECK(zstd.options().compression_threshold == 128);
        CHECK(zstd.encode("k", at).client_flag() == (value_flag::binary | value_flag::zstd));
    }
}

TEST_CASE("values of at least 128 bytes are compressed with zstd, shorter ones are not",
          "[serializer][zstd]") {
    if (!Serializer::zstd_available()) {
        CHECK(Serializer().options().compression != Compression::zstd);
        return;
    }
    const Serializer s({.compression = Compression::zstd});
    CHECK(s.options().compression == Compression::zstd);
    const std::string below(127, 'a');
    const std::string at(128, 'a');
    CHECK(s.encode("k", below).client_flag() == value_flag::binary);
    const auto compressed = s.encode("k", at);
    CHECK(compressed.client_flag() == (value_flag::binary | value_flag::zstd));
    CHECK(compressed.compressed());
    CHECK(compressed.data().size() < at.size());
    CHECK(s.decode<std::string>(compressed.data(), compressed.client_flag()) == at);

    // Values of every type compress the same way; the type flag stays underneath.
    const Text text{std::string(200, 't')};
    const auto t = s.encode("k", text);
    CHECK(t.client_flag() == (value_flag::str | value_flag::zstd));
    CHECK(s.decode<Text>(t.data(), t.client_flag()) == text);

    // The threshold is configurable; Compression::none never compresses.
    const Serializer low({.compression = Compression::zstd, .compression_threshold = 10});
    CHECK(
        low.encode("k", std::string_view("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")).compressed());
    CHECK_FALSE(low.encode("k", std::string_view("0123456789")).compressed());  // would grow
    const Serializer none({.compression = Compression::none});
    const std::string huge(100000, 'a');
    CHECK(!none.encode("k", huge).compressed());
    CHECK(none.decode<std::string>(compressed.data(), compressed.client_flag()) == at);
}

TEST_CASE("a key with disable_compression keeps any value uncompressed",
          "[serializer][zstd][zlib]") {
    const std::string big(100000, 'a');
    for (const Compression c : {Compression::zstd, Compression::zlib}) {
        if ((c == Compression::zstd && !Serializer::zstd_available()) ||
            (c == Compression::zlib && !Serializer::zlib_available())) {
            CHECK_THROWS_AS(Serializer({.compression = c}), InvalidInputError);
            continue;
        }
        const Serializer s({.compression = c});
        const auto e = s.encode(uncompressed_key(), big);
        CHECK(e.client_flag() == value_flag::binary);
        CHECK(e.is_borrowed());
        CHECK(s.encode("k", big).compressed());
    }
}

TEST_CASE("zstd frames have meta-memcache-py's settings: magicless, content size, no checksum",
          "[serializer][zstd][interop]") {
    if (!Serializer::zstd_available()) {
        CHECK_THROWS_AS(Serializer({.compression = Compression::zstd}), InvalidInputError);
        return;
    }
    const Serializer s({.compression = Compression::zstd});
    for (const std::size_t size : {std::size_t{128}, std::size_t{300}, std::size_t{70000}}) {
        std::string value;
        for (std::size_t i = 0; value.size() < size; ++i) {
            value += std::to_string(i * 7919 % 1000);
        }
        value.resize(size);
        const auto e = s.encode("k", value);
        REQUIRE(e.client_flag() == 48);
        CHECK(!starts_with_zstd_magic(e.data()));
        const FrameHeader h = parse_frame_header(e.data());
        CHECK(!h.checksum);
        CHECK(h.has_content_size);
        CHECK(h.content_size == size);
        CHECK(h.dictionary_id == 0);
    }
    // And Python's frames read back.
    const std::string plain(interop::plain_value);
    CHECK(s.decode<std::string>(interop::plain_zstd, 48) == plain);
    CHECK(parse_frame_header(interop::plain_zstd).content_size == plain.size());
}

TEST_CASE("the key's domain picks its dictionary; other keys use the default dictionary",
          "[serializer][zstd]") {
    if (!Serializer::zstd_available()) {
        Serializer s;
        CHECK_THROWS_AS(s.register_dictionary(interop::users_dictionary, {"users"}),
                        InvalidInputError);
        CHECK_THROWS_AS(s.set_default_dictionary(interop::items_dictionary), InvalidInputError);
        return;
    }
    Serializer s({.compression = Compression::zstd});
    CHECK(!s.dictionary_for("users"));
    CHECK(s.register_dictionary(interop::users_dictionary, {"users", "accounts"}) ==
          interop::users_dictionary_id);
    CHECK(s.dictionary_for("users") == interop::users_dictionary_id);
    CHECK(s.dictionary_for("accounts") == interop::users_dictionary_id);
    CHECK(!s.dictionary_for(""));
    CHECK(!s.dictionary_for("items"));

    const std::string user(interop::user_value);  // 100 bytes: only a dictionary compresses it
    REQUIRE(user.size() >= 64);
    REQUIRE(user.size() < 128);
    const auto with_dict = s.encode(domain_key("users"), user);
    CHECK(with_dict.client_flag() == 48);
    CHECK(parse_frame_header(with_dict.data()).dictionary_id == interop::users_dictionary_id);
    CHECK(with_dict.data().size() < 50);
    // No dictionary for this domain and no default: below 128 bytes stays as it is.
    CHECK(s.encode(domain_key("items"), user).client_flag() == 16);
    CHECK(s.encode("k", user).client_flag() == 16);
    // Below the dictionary threshold nothing is compressed, dictionary or not.
    CHECK(s.encode(domain_key("users"), interop::user_value.substr(0, 63)).client_flag() == 16);
    CHECK(s.encode(domain_key("users"), interop::user_value.substr(0, 64)).client_flag() == 48);

    // The default dictionary serves keys without a domain and domains without their own.
    CHECK(s.set_default_dictionary(interop::items_dictionary) == interop::items_dictionary_id);
    CHECK(s.dictionary_for("") == interop::items_dictionary_id);
    CHECK(s.dictionary_for("anything") == interop::items_dictionary_id);
    CHECK(s.dictionary_for("users") == interop::users_dictionary_id);
    const std::string item(interop::item_value);
    for (const Key& key : {Key("k"), domain_key("items")}) {
        const auto e = s.encode(key, item);
        REQUIRE(e.client_flag() == 48);
        CHECK(parse_frame_header(e.data()).dictionary_id == interop::items_dictionary_id);
        CHECK(s.decode<std::string>(e.data(), 48) == item);
    }
    // Above the plain threshold the domain's dictionary is used too.
    const std::string users = repeat(user, 3);
    const auto big = s.encode(domain_key("users"), users);
    CHECK(parse_frame_header(big.data()).dictionary_id == interop::users_dictionary_id);
    CHECK(s.decode<std::string>(big.data(), 48) == users);

    // Registering the same dictionary again maps more domains to the same id.
    CHECK(s.register_dictionary(interop::users_dictionary, {"people"}, 19) ==
          interop::users_dictionary_id);
    CHECK(s.dictionary_for("people") == interop::users_dictionary_id);
}

TEST_CASE("a frame carries its dictionary id and decodes without knowing the domain",
          "[serializer][zstd][interop]") {
    if (!Serializer::zstd_available()) {
        CHECK(Serializer().try_decode_bytes(interop::user_zstd_users_dictionary, 48).status ==
              DecodeStatus::decode_error);
        return;
    }
    Serializer writer({.compression = Compression::zstd});
    writer.register_dictionary(interop::users_dictionary, {"users"});
    const std::string user(interop::user_value);
    const auto e = writer.encode(domain_key("users"), user);

    // A reader that registered the dictionary for no domain at all.
    Serializer reader;
    reader.register_dictionary(interop::users_dictionary, {});
    reader.register_dictionary(interop::items_dictionary, {});
    CHECK(!reader.dictionary_for("users"));
    CHECK(reader.decode<std::string>(e.data(), e.client_flag()) == user);
    // meta-memcache-py's frames, with either dictionary.
    CHECK(reader.decode<std::string>(interop::user_zstd_users_dictionary, 48) == user);
    CHECK(reader.decode<std::string>(interop::item_zstd_items_dictionary, 48) ==
          interop::item_value);
    CHECK(parse_frame_header(interop::user_zstd_users_dictionary).dictionary_id ==
          interop::users_dictionary_id);
}

TEST_CASE("an unknown dictionary id is a decode error", "[serializer][zstd]") {
    const Serializer s;  // no dictionaries
    const auto r = s.try_decode<std::string>(interop::user_zstd_users_dictionary, 48);
    CHECK(r.status == DecodeStatus::decode_error);
    CHECK(!r.value);
    if (Serializer::zstd_available()) {
        CHECK_THAT(r.error, Catch::Contains("unknown zstd dictionary id 1001"));
    }
    CHECK_THROWS_AS(s.decode<std::string>(interop::user_zstd_users_dictionary, 48), DecodeError);
    CHECK(s.try_decode_bytes(interop::user_zstd_users_dictionary, 48).status ==
          DecodeStatus::decode_error);
}

TEST_CASE("corrupt, truncated or oversized compressed values are decode errors",
          "[serializer][zstd][zlib]") {
    const Serializer s({.max_decompressed_size = 1000});
    const auto decode_error = [&](std::string_view data, std::uint32_t flag) {
        const auto r = s.try_decode_bytes(data, flag);
        CHECK(r.status == DecodeStatus::decode_error);
        CHECK(!r.error.empty());
        return r.error;
    };
    decode_error("", 48);
    decode_error("", 24);
    decode_error("not compressed at all", 48);
    decode_error("not compressed at all", 24);
    CHECK_THAT(decode_error("x", 16 | 8 | 32), Catch::Contains("both"));

    const std::string_view frame = interop::plain_zstd;
    const std::string_view stream = interop::repeated_123_zlib;
    for (std::size_t n = 0; n < frame.size(); ++n) {
        decode_error(frame.substr(0, n), 48);
    }
    for (std::size_t n = 0; n < stream.size(); ++n) {
        decode_error(stream.substr(0, n), 24);
    }
    decode_error(std::string(stream) + "trailing", 24);
    decode_error(std::string(frame) + "trailing", 48);

    if (Serializer::zstd_available()) {
        // Declared content size above the limit: refused before decompressing.
        const Serializer writer({.compression = Compression::zstd});
        const std::string too_big(1001, 'a');
        const std::string just_fits(1000, 'a');
        const auto big = writer.encode("k", too_big);
        CHECK_THAT(decode_error(big.data(), big.client_flag()),
                   Catch::Contains("max_decompressed_size"));
        const auto fits = writer.encode("k", just_fits);
        CHECK(s.decode<std::string>(fits.data(), fits.client_flag()) == just_fits);
        // A frame in the standard format (with the magic number) is not what Python writes.
        decode_error(std::string("\x28\xb5\x2f\xfd", 4) + std::string(frame), 48);
    }
    if (Serializer::zlib_available()) {
        // A zlib bomb: 10 MB of zeros in a few KB, cut off at the limit.
        const Serializer writer({.compression = Compression::zlib});
        const std::string zeros(10'000'000, '\0');
        const std::string just_fits(1000, 'z');
        const auto bomb = writer.encode("k", zeros);
        CHECK(bomb.data().size() < 20'000);
        CHECK_THAT(decode_error(bomb.data(), bomb.client_flag()),
                   Catch::Contains("max_decompressed_size"));
        const auto fits = writer.encode("k", just_fits);
        CHECK(s.decode<std::string>(fits.data(), fits.client_flag()) == just_fits);
    }
}

TEST_CASE("random damage to compressed values never crashes the decoder",
          "[serializer][zstd][zlib]") {
    Serializer s;
    if (Serializer::zstd_available()) {
        s.register_dictionary(interop::users_dictionary, {});
    }
    std::mt19937 rng(12345);  // NOLINT(cert-msc32-c,cert-msc51-cpp): reproducible on purpose
    std::size_t decoded = 0;
    std::size_t errors = 0;
    for (const auto& [original, flag] :
         {std::pair{interop::plain_zstd, 48U}, std::pair{interop::user_zstd_users_dictionary, 48U},
          std::pair{interop::repeated_123_zlib, 24U}}) {
        for (int round = 0; round < 2000; ++round) {
            std::string damaged(original);
            const int flips = 1 + static_cast<int>(rng() % 4);
            for (int i = 0; i < flips; ++i) {
                damaged[rng() % damaged.size()] = static_cast<char>(rng() & 0xFFU);
            }
            const auto r = s.try_decode_bytes(damaged, flag);
            // Without a checksum some damage goes unnoticed; it must never crash or overrun.
            CHECK((r.status == DecodeStatus::decode_error || r.status == DecodeStatus::ok));
            (r ? decoded : errors) += 1;
        }
    }
    CHECK(errors > 0);
    // Pure noise.
    for (int round = 0; round < 2000; ++round) {
        std::string noise(1 + rng() % 200, '\0');
        for (char& c : noise) {
            c = static_cast<char>(rng() & 0xFFU);
        }
        const auto r = s.try_decode_bytes(noise, round % 2 == 0 ? 48U : 24U);
        CHECK((r.status == DecodeStatus::decode_error || r.status == DecodeStatus::ok));
    }
}

TEST_CASE("zlib mode writes zlib values that zstd mode reads, and reads zstd values",
          "[serializer][zlib][zstd]") {
    if (!Serializer::zlib_available()) {
        CHECK_THROWS_AS(Serializer({.compression = Compression::zlib}), InvalidInputError);
        CHECK(Serializer().try_decode_bytes(interop::repeated_123_zlib, 24).status ==
              DecodeStatus::decode_error);
        return;
    }
    Serializer zlib_mode({.compression = Compression::zlib});
    const std::string value = repeat("zlib-or-zstd ", 20);
    const auto z = zlib_mode.encode("k", value);
    CHECK(z.client_flag() == (value_flag::binary | value_flag::zlib));
    CHECK(zlib_mode.encode("k", std::string_view(value).substr(0, 127)).client_flag() ==
          value_flag::binary);
    CHECK(zlib_mode.encode("k", 12345).client_flag() == value_flag::integer);
    CHECK(zlib_mode.decode<std::string>(z.data(), z.client_flag()) == value);
    if (Serializer::zstd_available()) {
        const Serializer zstd_mode;
        CHECK(zstd_mode.decode<std::string>(z.data(), z.client_flag()) == value);
        const auto zs = zstd_mode.encode("k", value);
        CHECK(zlib_mode.decode<std::string>(zs.data(), zs.client_flag()) == value);
        // Dictionaries are a zstd matter: zlib mode keeps the plain threshold.
        zlib_mode.register_dictionary(interop::users_dictionary, {"users"});
        CHECK(zlib_mode.encode(domain_key("users"), interop::user_value).client_flag() == 16);
        CHECK(zlib_mode.decode<std::string>(interop::user_zstd_users_dictionary, 48) ==
              interop::user_value);
    }
}

TEST_CASE("options and dictionaries are validated", "[serializer]") {
    CHECK_THROWS_AS(Serializer({.zlib_level = 10}), InvalidInputError);
    CHECK_THROWS_AS(Serializer({.zlib_level = -2}), InvalidInputError);
    if (!Serializer::zstd_available()) {
        CHECK_THROWS_AS(Serializer({.compression = Compression::zstd}), InvalidInputError);
        return;
    }
    CHECK_THROWS_AS(Serializer({.compression_level = 23}), InvalidInputError);
    CHECK_THROWS_AS(Serializer({.dict_compression_level = 100}), InvalidInputError);
    CHECK_NOTHROW(Serializer({.compression_level = -5}));

    Serializer s;
    CHECK_THROWS_WITH(s.register_dictionary("raw content is not a dictionary", {"d"}),
                      Catch::Contains("not a zstd dictionary"));
    CHECK_THROWS_AS(s.register_dictionary(interop::users_dictionary, {""}), InvalidInputError);
    CHECK_THROWS_AS(s.register_dictionary(interop::users_dictionary, {"d"}, 99), InvalidInputError);
    // A dictionary header with broken entropy tables.
    std::string broken(interop::users_dictionary.substr(0, 16));
    CHECK_THROWS_AS(s.register_dictionary(broken, {"d"}), InvalidInputError);
    CHECK(!s.dictionary_for("d"));
}

TEST_CASE("many threads compress and decompress with dictionaries at once",
          "[serializer][zstd][threads]") {
    if (!Serializer::zstd_available()) {
        CHECK(!Serializer::zstd_available());
        return;
    }
    Serializer s;
    s.register_dictionary(interop::users_dictionary, {"users"});

    constexpr int threads = 4;
    constexpr int rounds = 300;
    std::atomic<int> failures{0};
    std::atomic<bool> registered{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < rounds; ++i) {
                if (t == 0 && i == rounds / 2) {  // registration while others work
                    s.set_default_dictionary(interop::items_dictionary);
                    registered = true;
                }
                const std::string value = fmt::format(
                    R"({{"id":{},"name":"user-{}","email":"user-{}@example.com","plan":"pro"}})",
                    t * rounds + i, i, t);
                const Key key = (i % 3 == 0)   ? domain_key("users")
                                : (i % 3 == 1) ? Key("k")
                                               : Key("k", "", "", true);
                const auto e = s.encode(key, value);
                const auto back = s.try_decode<std::string>(e.data(), e.client_flag());
                const std::string tripled = repeat(value, 3);
                const auto big = s.encode(key, tripled);
                const auto big_back = s.try_decode<std::string>(big.data(), big.client_flag());
                const auto py = s.try_decode<std::string>(interop::user_zstd_users_dictionary, 48);
                if (!back || *back.value != value || !big_back || *big_back.value != tripled ||
                    !py || *py.value != interop::user_value) {
                    ++failures;
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    CHECK(failures == 0);
    CHECK(registered);
    CHECK(s.dictionary_for("") == interop::items_dictionary_id);
}
