// typed_values: what goes into memcached besides bytes.
//
// Integers (stored as decimal digits, so memcached's own counters work on them), Text
// (a Python `str` to meta-memcache-py services), a type of your own through ValueCodec,
// and zstd compression with a dictionary per key domain, registered on a Serializer the
// client shares. The client flags are meta-memcache-py's, so Python services read these
// entries too.

#include <meta_memcache/meta_memcache.hpp>

#include "example_support.hpp"

#if EXAMPLE_WITH_ZSTD
#include <zdict.h>
#endif

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mm = meta_memcache;

// ---- a type of your own ---------------------------------------------------------------

struct Session {
    std::uint64_t user_id = 0;
    std::string locale;
    friend bool operator==(const Session&, const Session&) = default;
};

// "<user_id>|<locale>", stored as bytes (flag 16): a Python service reading it gets bytes.
template <>
struct meta_memcache::ValueCodec<Session> {
    static constexpr std::uint32_t flag = meta_memcache::value_flag::binary;

    static meta_memcache::EncodedValue encode(const Session& s) {
        return meta_memcache::EncodedValue::owned(std::to_string(s.user_id) + "|" + s.locale, flag);
    }
    // nullopt: the stored value is not a Session (read as nothing, not an error).
    static std::optional<Session> decode(std::string_view bytes, std::uint32_t type_flag) {
        const auto bar = bytes.find('|');
        if (type_flag != flag || bar == std::string_view::npos)
            return std::nullopt;
        Session s;
        const auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bar, s.user_id);
        if (ec != std::errc() || end != bytes.data() + bar)
            return std::nullopt;
        s.locale = std::string(bytes.substr(bar + 1));
        return s;
    }
};

namespace {

/// A user record as a service would cache it: about 100 bytes of JSON.
std::string user_json(int id) {
    static const char* const plans[] = {"free", "pro", "team", "enterprise"};
    static const char* const countries[] = {"DE", "FR", "US", "BR", "JP", "IN"};
    return "{\"id\":" + std::to_string(id) + ",\"name\":\"user" +
           std::to_string(id * 7919 % 100000) + "\",\"email\":\"user" + std::to_string(id) +
           "@example.com\",\"plan\":\"" + plans[id % 4] + "\",\"country\":\"" + countries[id % 6] +
           "\",\"active\":" + (id % 3 != 0 ? "true" : "false") + "}";
}

/// The stored bytes and client flag of `key`, as memcached holds them.
std::pair<std::size_t, std::uint32_t> stored(mm::CacheClient& cache, mm::KeyView key) {
    const mm::ReadResponse r =
        cache.meta_get(key, {.return_client_flag = true, .return_value = true});
    const auto* v = std::get_if<mm::Value>(&r);
    return v != nullptr ? std::pair{v->data.size(), v->flags.client_flag.value_or(0)}
                        : std::pair{std::size_t{0}, std::uint32_t{0}};
}

}  // namespace

int main() try {
    const auto servers = example::servers_from_env();
    // One Serializer, shared: dictionaries registered on it serve every client using it.
    // zstd is an explicit choice (the default, zlib, is what meta-memcache-py's default
    // MixedSerializer reads; zstd pairs with its ZstdSerializer).
#if EXAMPLE_WITH_ZSTD
    auto serializer = std::make_shared<mm::Serializer>(
        mm::SerializerOptions{.compression = mm::Compression::zstd});
#else
    auto serializer = std::make_shared<mm::Serializer>();
#endif
    mm::ClientOptions options;
    options.serializer = serializer;
    auto cache = mm::cache_client_from_servers(servers, {}, options);

    std::printf("1. integers: decimal digits, flag 2; memcached's counters work on them\n");
    const std::string visits = example::unique_key("typed:visits");
    cache.set(visits, 41, 600);
    cache.delta(visits, 1);
    const std::optional<std::int64_t> n = cache.get_typed<std::int64_t>(visits);
    std::printf("  visits = %lld (client flag %u)\n", static_cast<long long>(n.value_or(-1)),
                stored(cache, visits).second);
    example::expect(n == 42, "set(41), delta(+1), get_typed<int64_t> reads 42");
    example::expect(stored(cache, visits).second == mm::value_flag::integer, "stored with flag 2");

    std::printf("2. Text: UTF-8 stored as a Python str (flag 0)\n");
    const std::string greeting = example::unique_key("typed:greeting");
    cache.set(greeting, mm::Text{"Grüße aus Köln"}, 600);
    const std::optional<mm::Text> text = cache.get_typed<mm::Text>(greeting);
    example::expect(text && text->value == "Grüße aus Köln", "get_typed<Text> reads it back");
    example::expect(!cache.get_typed<std::int64_t>(greeting),
                    "read as an integer it is nothing (a type mismatch, not an error)");
    bool threw = false;
    try {
        (void)cache.get_typed<std::int64_t>(greeting, {.error_on_type_mismatch = true});
    } catch (const mm::TypeMismatchError& e) {
        threw = true;
        std::printf("  with error_on_type_mismatch: %s\n", e.what());
    }
    example::expect(threw, "... or a TypeMismatchError when asked for");

    std::printf("3. your own type through ValueCodec<Session>\n");
    const std::string session_key = example::unique_key("typed:session");
    const Session session{42, "pt-BR"};
    cache.set(session_key, session, 600);
    example::expect(cache.get_typed<Session>(session_key) == session,
                    "get_typed<Session> reads the Session back");
    example::expect(cache.get(session_key) == std::optional<std::string>("42|pt-BR"),
                    "a plain get sees the bytes the codec wrote");
    example::expect(!cache.get_typed<Session>(visits), "an integer is not a Session");

#if EXAMPLE_WITH_ZSTD
    std::printf("4. zstd with a dictionary for the \"users\" domain\n");
    // Train a dictionary on typical values. A service loads one trained offline
    // (`zstd --train samples/* -o users.dict`) and every reader registers the same bytes.
    std::string samples;
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 1000; ++i) {
        const std::string s = user_json(100000 + i);
        samples += s;
        sizes.push_back(s.size());
    }
    std::string dictionary(2048, '\0');
    const std::size_t dict_size =
        ZDICT_trainFromBuffer(dictionary.data(), dictionary.size(), samples.data(), sizes.data(),
                              static_cast<unsigned>(sizes.size()));
    if (ZDICT_isError(dict_size) != 0) {
        std::fprintf(stderr, "training failed: %s\n", ZDICT_getErrorName(dict_size));
        return 2;
    }
    dictionary.resize(dict_size);
    const std::uint32_t id = serializer->register_dictionary(dictionary, {"users"});
    std::printf("  dictionary %u: %zu bytes, for domain \"users\"\n", id, dictionary.size());

    const std::string json = user_json(4242);
    const mm::Key in_users(example::unique_key("typed:user:4242"), "", "users");  // domain
    const std::string plain_key = example::unique_key("typed:user:plain");        // no domain
    cache.set(in_users, json, 600);
    cache.set(plain_key, json, 600);
    const auto [users_size, users_flag] = stored(cache, in_users);
    const auto [plain_size, plain_flag] = stored(cache, plain_key);
    std::printf(
        "  a %zu-byte user record: %zu bytes with the dictionary (flag %u), %zu without "
        "(flag %u)\n",
        json.size(), users_size, users_flag, plain_size, plain_flag);
    example::expect((users_flag & mm::value_flag::zstd) != 0 && users_size < json.size() / 2,
                    "in the users domain it is stored zstd-compressed, under half its size");
    example::expect(plain_size == json.size(),
                    "without a domain it is under the 128-byte threshold and stays as it is");
    example::expect(cache.get(in_users) == json, "get decompresses it transparently");

    // A reader without the dictionary cannot decode the frame: it reads as a miss.
    auto without = mm::cache_client_from_servers(servers);
    example::expect(!without.get(in_users),
                    "a client that did not register the dictionary reads nothing");
    cache.del(in_users);
    cache.del(plain_key);
#else
    std::printf("4. (built without zstd: no dictionaries)\n");
#endif
    for (const std::string& k : {visits, greeting, session_key})
        cache.del(k);
    return example::exit_code();
} catch (const mm::Error& e) {
    std::fprintf(stderr, "typed_values: %s\n", e.what());
    return 2;
}
