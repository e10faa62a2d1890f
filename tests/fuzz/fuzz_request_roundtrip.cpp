// libFuzzer target: RequestFlags, a key (and key prefix) and a command built from the input
// go through encode_key and encode_request; InvalidInputError is an allowed outcome, any
// other exception is a bug. An encoded line is read back by the small request-line parser
// below, written from memcached 1.6.18's grammar and independent of the library, which
// checks that:
//   - the line ends in \r\n and holds no other \r or \n (no protocol injection), with
//     single spaces between tokens, and fits max_request_line;
//   - the key token is what the reference client sends for prefix+key: the raw bytes, or
//     standard padded base64 with `b` for binary keys, or the base64 BLAKE2b-18 digest with
//     `b` for keys of 187 bytes or more (a hand-filled WireKey: exactly its bytes);
//   - every flag decodes to the value that was asked for, in the reference client's order,
//     each at most once, each one the command takes on 1.6.18, within memcached's flag
//     count, with TTLs in 0..2^31-1, the value within the item limit, and none of the
//     combinations memcached ignores (md T without I, ms I without C, ms C in add mode,
//     ma J without N).
// The unvalidated encode_request_line is also run into an exact-size max_request_line
// buffer with the same, possibly invalid, flags: ASan catches any overrun.

#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/request_flags.hpp>

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

namespace mm = meta_memcache;
namespace md = meta_memcache::detail;
using md::MetaCommand;

namespace {

void require(bool ok, const char* what, std::string_view line = {}) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_request_roundtrip: invariant broken: %s\nline: %.*s\n", what,
                     static_cast<int>(line.size()), line.data());
        std::abort();
    }
}

// ---- building a request from the input ------------------------------------------------

std::optional<std::int64_t> maybe_ttl(FuzzedDataProvider& in) {
    if (!in.ConsumeBool())
        return std::nullopt;
    static constexpr std::int64_t edges[] = {-1,
                                             0,
                                             1,
                                             2'592'000,
                                             2'147'483'647,
                                             2'147'483'648,
                                             std::numeric_limits<std::int64_t>::min(),
                                             std::numeric_limits<std::int64_t>::max()};
    switch (in.ConsumeIntegralInRange(0, 2)) {
        case 0:
            return in.ConsumeIntegralInRange<std::int64_t>(0, 3'000'000);
        case 1:
            return in.PickValueInArray(edges);
        default:
            return in.ConsumeIntegral<std::int64_t>();
    }
}

template <class Int>
std::optional<Int> maybe(FuzzedDataProvider& in) {
    if (!in.ConsumeBool())
        return std::nullopt;
    return in.ConsumeIntegral<Int>();
}

struct Request {
    MetaCommand cmd = MetaCommand::noop;
    mm::RequestFlags flags;
    std::size_t value_size = 0;
    std::size_t max_value_size = md::max_datalen;
    std::string prefix;
    std::string key;
    bool hand_made_key = false;  // fill a WireKey directly instead of encode_key
    bool hand_made_base64 = false;
};

/// Builds a request; false when the input asked for an Opaque its constructor rejected.
bool build(FuzzedDataProvider& in, Request& r) {
    r.cmd = static_cast<MetaCommand>(in.ConsumeIntegralInRange(0, 4));
    mm::RequestFlags& f = r.flags;
    f.no_reply = in.ConsumeBool();
    f.return_client_flag = in.ConsumeBool();
    f.return_cas_token = in.ConsumeBool();
    f.return_value = in.ConsumeBool();
    f.return_ttl = in.ConsumeBool();
    f.return_size = in.ConsumeBool();
    f.return_last_access = in.ConsumeBool();
    f.return_fetched = in.ConsumeBool();
    f.return_key = in.ConsumeBool();
    f.no_update_lru = in.ConsumeBool();
    f.mark_stale = in.ConsumeBool();
    f.cache_ttl = maybe_ttl(in);
    f.recache_ttl = maybe_ttl(in);
    f.vivify_on_miss_ttl = maybe_ttl(in);
    f.client_flag = maybe<std::uint32_t>(in);
    f.ma_initial_value = maybe<std::uint64_t>(in);
    f.ma_delta_value = maybe<std::uint64_t>(in);
    f.cas_token = maybe<std::uint64_t>(in);
    static constexpr mm::Mode modes[] = {mm::Mode::set,      mm::Mode::add,     mm::Mode::append,
                                         mm::Mode::prepend,  mm::Mode::replace, mm::Mode::increment,
                                         mm::Mode::decrement};
    if (in.ConsumeBool())
        f.mode = in.PickValueInArray(modes);
    r.value_size = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 4096)
                                    : in.ConsumeIntegral<std::size_t>();
    if (in.ConsumeBool())
        r.max_value_size = in.ConsumeIntegralInRange<std::size_t>(0, 4096);
    const bool has_opaque = in.ConsumeBool();
    const bool checked_opaque = in.ConsumeBool();
    r.hand_made_key = in.ConsumeIntegralInRange(0, 7) == 0;
    r.hand_made_base64 = in.ConsumeBool();

    if (has_opaque) {
        const std::string token = in.ConsumeRandomLengthString(40);
        if (checked_opaque) {
            try {
                f.opaque = mm::Opaque(token);
            } catch (const mm::InvalidInputError&) {
                return false;
            }
        } else {
            f.opaque = mm::Opaque::unchecked(token);  // any bytes: the encoder must check
        }
    }
    r.prefix = in.ConsumeRandomLengthString(200);
    r.key = in.ConsumeRandomLengthString(600);
    return true;
}

// ---- an independent reading of the request line --------------------------------------

bool printable(char c) {
    return c > 0x20 && c < 0x7F;
}

/// Standard padded base64 (RFC 4648), canonical (unused bits zero). False if not.
bool decode_base64(std::string_view in, std::string& out) {
    auto sextet = [](char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
        return -1;
    };
    if (in.empty() || in.size() % 4 != 0)
        return false;
    out.clear();
    for (std::size_t i = 0; i < in.size(); i += 4) {
        const bool last = i + 4 == in.size();
        int pad = 0;
        if (last && in[i + 3] == '=')
            pad = in[i + 2] == '=' ? 2 : 1;
        unsigned acc = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const int s = j >= 4u - static_cast<unsigned>(pad) ? 0 : sextet(in[i + j]);
            if (s < 0)
                return false;
            acc = (acc << 6u) | static_cast<unsigned>(s);
        }
        out += static_cast<char>((acc >> 16u) & 0xFFu);
        if (pad < 2)
            out += static_cast<char>((acc >> 8u) & 0xFFu);
        if (pad < 1)
            out += static_cast<char>(acc & 0xFFu);
        if ((pad == 2 && (acc & 0xFFFFu) != 0) || (pad == 1 && (acc & 0xFFu) != 0))
            return false;
    }
    return true;
}

/// A canonical decimal (no sign, no leading zero) that fits in 64 bits.
bool decimal(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0'))
        return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return false;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (out > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
            return false;
        out = out * 10 + d;
    }
    return true;
}

/// The flag letters in the order the reference client sends them.
constexpr std::string_view flag_order = "bqfcvtslhkuITRNFJDCOM";

/// The flags memcached 1.6.18 acts on for each command (its manual, section 4-7), minus the
/// ones it ignores there (ms s/N, mg C).
std::string_view letters_taken(MetaCommand cmd) {
    switch (cmd) {
        case MetaCommand::get:
            return "bqfcvtslhkuTRNO";
        case MetaCommand::set:
            return "bqckITFCOM";
        case MetaCommand::del:
            return "bqkITCO";
        case MetaCommand::arithmetic:
            return "bqcvtkTNJDCOM";
        case MetaCommand::noop:
            return "";
    }
    return "";
}

struct ReadBack {
    std::string_view key;
    bool base64 = false;
    std::uint64_t datalen = 0;
    mm::RequestFlags flags;
    std::string letters;
};

/// Reads `line` as memcached would tokenize it; aborts on anything out of grammar.
ReadBack read_line(std::string_view line, MetaCommand cmd) {
    ReadBack out;
    require(line.size() >= 4 && line.size() <= md::max_request_line, "line length", line);
    require(line.substr(line.size() - 2) == "\r\n", "line ends in \\r\\n", line);
    const std::string_view body = line.substr(0, line.size() - 2);
    require(body.find_first_of("\r\n") == std::string_view::npos, "no \\r or \\n inside", line);
    std::vector<std::string_view> tokens;
    for (std::size_t pos = 0;;) {
        const std::size_t sp = body.find(' ', pos);
        tokens.push_back(body.substr(pos, sp == std::string_view::npos ? sp : sp - pos));
        require(!tokens.back().empty(), "single spaces between tokens", line);
        if (sp == std::string_view::npos)
            break;
        pos = sp + 1;
    }
    static constexpr std::string_view names[] = {"mg", "ms", "md", "ma", "mn"};
    require(tokens[0] == names[static_cast<int>(cmd)], "command name", line);
    if (cmd == MetaCommand::noop) {
        require(tokens.size() == 1, "mn alone", line);
        return out;
    }
    require(tokens.size() >= 2, "a key token", line);
    out.key = tokens[1];
    require(out.key.size() <= md::max_wire_key_size, "key token of at most 250 bytes", line);
    for (char c : out.key)
        require(printable(c), "key token of printable bytes", line);
    std::size_t first_flag = 2;
    if (cmd == MetaCommand::set) {
        require(tokens.size() >= 3 && decimal(tokens[2], out.datalen), "ms datalen", line);
        first_flag = 3;
    }
    std::size_t last_rank = 0;
    mm::RequestFlags& f = out.flags;
    for (std::size_t i = first_flag; i < tokens.size(); ++i) {
        const char letter = tokens[i][0];
        const std::string_view arg = tokens[i].substr(1);
        const std::size_t rank = flag_order.find(letter) + 1;
        require(rank > last_rank, "known flags, each once, in the reference order", line);
        last_rank = rank;
        require(letters_taken(cmd).find(letter) != std::string_view::npos,
                "a flag the command takes", line);
        out.letters += letter;
        std::uint64_t n = 0;
        const bool bare = std::string_view("bqfcvtslhkuI").find(letter) != std::string_view::npos;
        if (bare) {
            require(arg.empty(), "a bare flag has no argument", line);
        } else if (letter == 'O') {
            require(arg.size() <= mm::Opaque::max_size, "an opaque of at most 31 bytes", line);
            for (char c : arg)
                require(printable(c), "an opaque of printable bytes", line);
            f.opaque = mm::Opaque::unchecked(arg);
            continue;
        } else if (letter == 'M') {
            require(arg.size() == 1, "a mode of one letter", line);
            const std::string_view modes = cmd == MetaCommand::set ? "EAPR" : "-";
            require(modes.find(arg[0]) != std::string_view::npos, "a mode of the command", line);
            f.mode = static_cast<mm::Mode>(arg[0]);
            continue;
        } else {
            require(decimal(arg, n), "a decimal argument", line);
        }
        switch (letter) {
            case 'b':
                out.base64 = true;
                break;
            case 'q':
                f.no_reply = true;
                break;
            case 'f':
                f.return_client_flag = true;
                break;
            case 'c':
                f.return_cas_token = true;
                break;
            case 'v':
                f.return_value = true;
                break;
            case 't':
                f.return_ttl = true;
                break;
            case 's':
                f.return_size = true;
                break;
            case 'l':
                f.return_last_access = true;
                break;
            case 'h':
                f.return_fetched = true;
                break;
            case 'k':
                f.return_key = true;
                break;
            case 'u':
                f.no_update_lru = true;
                break;
            case 'I':
                f.mark_stale = true;
                break;
            case 'T':
            case 'R':
            case 'N':
                require(n <= 2'147'483'647u, "a TTL in 0..2^31-1", line);
                (letter == 'T'   ? f.cache_ttl
                 : letter == 'R' ? f.recache_ttl
                                 : f.vivify_on_miss_ttl) = static_cast<std::int64_t>(n);
                break;
            case 'F':
                require(n <= 0xFFFFFFFFu, "client flags of 32 bits", line);
                f.client_flag = static_cast<std::uint32_t>(n);
                break;
            case 'J':
                f.ma_initial_value = n;
                break;
            case 'D':
                f.ma_delta_value = n;
                break;
            case 'C':
                f.cas_token = n;
                break;
            default:
                require(false, "unreachable flag letter", line);
        }
    }
    const std::size_t limit = cmd == MetaCommand::set ? 16 : 17;
    require(tokens.size() - first_flag <= limit, "within memcached's flag count", line);
    auto has = [&](char c) { return out.letters.find(c) != std::string::npos; };
    require(cmd != MetaCommand::del || !has('T') || has('I'), "md T only with I", line);
    require(cmd != MetaCommand::set || !has('I') || has('C'), "ms I only with C", line);
    require(cmd != MetaCommand::set || !has('C') || f.mode != mm::Mode::add, "ms C not in add mode",
            line);
    require(cmd != MetaCommand::arithmetic || !has('J') || has('N'), "ma J only with N", line);
    return out;
}

/// What the reference client sends for `full` (prefix + key): the wire token and `b`.
void expect_key(std::string_view full, const ReadBack& got, std::string_view line) {
    std::string decoded;
    if (full.size() >= md::hashed_key_threshold) {
        unsigned char digest[md::key_digest_size];
        crypto_generichash(digest, sizeof digest,
                           reinterpret_cast<const unsigned char*>(full.data()), full.size(),
                           nullptr, 0);
        require(got.base64 && got.key.size() == 24, "a long key is sent hashed with b", line);
        require(decode_base64(got.key, decoded), "a hashed key is base64", line);
        require(decoded == std::string_view(reinterpret_cast<const char*>(digest), sizeof digest),
                "a long key is its BLAKE2b-18 digest", line);
        return;
    }
    bool binary = false;
    for (char c : full)
        binary = binary || !printable(c);
    if (binary) {
        require(got.base64, "a binary key is sent with b", line);
        require(got.key.size() == (full.size() + 2) / 3 * 4, "padded base64 length", line);
        require(decode_base64(got.key, decoded) && decoded == full,
                "a binary key decodes from base64 to itself", line);
    } else {
        require(!got.base64 && got.key == full, "a printable key is sent as it is", line);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    require(sodium_init() >= 0, "libsodium initialises");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Request r;
    if (!build(in, r))
        return 0;

    md::WireKey key;
    if (r.hand_made_key) {
        key.size = r.key.size();  // may be over 250: the encoder must not trust it
        r.key.copy(key.data.data(), key.data.size());
        key.base64 = r.hand_made_base64;
    } else {
        try {
            md::encode_key(r.key, key, r.prefix);
        } catch (const mm::InvalidInputError&) {
            require(r.key.empty(), "encode_key rejects only an empty key");
            return 0;
        }
        require(!r.key.empty(), "encode_key rejects an empty key");
        require(key.size > 0 && key.size <= md::max_wire_key_size, "encode_key fits 250 bytes");
    }

    // Unvalidated: anything goes, but never past max_request_line.
    {
        const std::unique_ptr<char[]> raw(new char[md::max_request_line]);
        const std::size_t n = md::encode_request_line(raw.get(), r.cmd, key, r.flags, r.value_size);
        require(n <= md::max_request_line, "encode_request_line stays in its bound");
    }

    const std::unique_ptr<char[]> buf(new char[md::max_request_line]);
    std::size_t n = 0;
    try {
        n = md::encode_request(buf.get(), r.cmd, key, r.flags, r.value_size, r.max_value_size);
    } catch (const mm::InvalidInputError&) {
        return 0;  // rejected before anything could be sent
    }
    const std::string_view line(buf.get(), n);
    const ReadBack got = read_line(line, r.cmd);
    if (r.cmd == MetaCommand::noop) {
        require(r.flags == mm::RequestFlags{}, "mn only without flags", line);
        return 0;
    }

    // The flags decode to what was asked; set and increment modes are the default, not sent.
    mm::RequestFlags want = r.flags;
    if (want.mode == mm::Mode::set || want.mode == mm::Mode::increment)
        want.mode.reset();
    require(got.flags == want, "every flag decodes to what was encoded", line);
    if (r.cmd == MetaCommand::set) {
        require(got.datalen == r.value_size, "ms datalen is the value size", line);
        require(r.value_size <= r.max_value_size && r.value_size <= md::max_datalen,
                "a value within the item limit", line);
    }
    if (r.hand_made_key) {
        require(key.size > 0 && key.size <= md::max_wire_key_size,
                "a hand-made key of 1..250 bytes", line);
        require(got.key == key.view() && got.base64 == key.base64,
                "a hand-made key goes out as it is", line);
    } else {
        expect_key(r.prefix + r.key, got, line);
    }
    return 0;
}
