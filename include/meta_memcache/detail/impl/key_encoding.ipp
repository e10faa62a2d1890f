// Wire keys as meta-memcache-py encodes them: base64 for binary keys, the BLAKE2b digest
// of long ones (libsodium).

#include <meta_memcache/config.hpp>
#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/error.hpp>

#include <sodium.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace meta_memcache::detail {

namespace key_encoding_impl {

struct SodiumInit {
    SodiumInit() {
        if (sodium_init() < 0) {
            throw std::runtime_error("meta_memcache: libsodium failed to initialise");
        }
    }
};

inline void ensure_sodium() {
    static const SodiumInit init;
}

inline void to_base64(const unsigned char* in, std::size_t n, WireKey& out) {
    // 186 raw bytes encode to 248 characters plus the NUL sodium writes.
    char tmp[max_wire_key_size + 8];
    sodium_bin2base64(tmp, sizeof tmp, in, n, sodium_base64_VARIANT_ORIGINAL);
    out.size = std::strlen(tmp);
    std::memcpy(out.data.data(), tmp, out.size);
    out.base64 = true;
}

}  // namespace key_encoding_impl

META_MEMCACHE_DECL void encode_key(std::string_view key, WireKey& out, std::string_view prefix) {
    using namespace key_encoding_impl;
    const std::size_t total = prefix.size() + key.size();
    if (key.empty()) {
        throw InvalidInputError("key is empty");
    }
    if (total >= hashed_key_threshold) {
        ensure_sodium();
        unsigned char digest[key_digest_size];
        crypto_generichash_state state;
        crypto_generichash_init(&state, nullptr, 0, key_digest_size);
        crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(prefix.data()),
                                  prefix.size());
        crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(key.data()),
                                  key.size());
        crypto_generichash_final(&state, digest, key_digest_size);
        to_base64(digest, key_digest_size, out);
        return;
    }
    auto* dst = reinterpret_cast<unsigned char*>(out.data.data());
    if (!prefix.empty())
        std::memcpy(dst, prefix.data(), prefix.size());
    std::memcpy(dst + prefix.size(), key.data(), key.size());
    if (any_binary(out.data.data(), total)) {
        unsigned char raw[hashed_key_threshold];
        std::memcpy(raw, dst, total);
        ensure_sodium();
        to_base64(raw, total, out);
        return;
    }
    out.size = total;
    out.base64 = false;
}

META_MEMCACHE_DECL void base64_encode(std::string_view in, std::string& out) {
    key_encoding_impl::ensure_sodium();
    const std::size_t len = sodium_base64_encoded_len(in.size(), sodium_base64_VARIANT_ORIGINAL);
    const std::size_t old = out.size();
    out.resize(old + len);
    sodium_bin2base64(out.data() + old, len, reinterpret_cast<const unsigned char*>(in.data()),
                      in.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(old + len - 1);  // drop the NUL
}

META_MEMCACHE_DECL bool base64_decode(std::string_view in, std::string& out) {
    key_encoding_impl::ensure_sodium();
    const std::size_t old = out.size();
    out.resize(old + in.size() / 4 * 3 + 3);
    std::size_t bin_len = 0;
    const char* end = nullptr;
    const int rc = sodium_base642bin(reinterpret_cast<unsigned char*>(out.data() + old),
                                     out.size() - old, in.data(), in.size(), nullptr, &bin_len,
                                     &end, sodium_base64_VARIANT_ORIGINAL);
    if (rc != 0 || end != in.data() + in.size()) {
        out.resize(old);
        return false;
    }
    out.resize(old + bin_len);
    return true;
}

}  // namespace meta_memcache::detail
