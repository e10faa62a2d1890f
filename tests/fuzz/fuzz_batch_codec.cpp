// libFuzzer target: arbitrary bytes as a server's answers to a batch of requests, into the
// batch codec the drivers run (BatchDecoder, fed as the synchronous driver feeds it) and
// into the parser under it (parse_header, parse_response).
//
// Input: a control byte, a batch byte, then the stream. Control bit 0 picks tight parser
// limits (short lines, small values, few flags) and a 64-byte read buffer (so values go
// the large-value way) instead of the defaults; bits 1..7 pick a split point as a fraction
// of the stream. The batch byte picks up to four requests (mg, quiet mg, ms, quiet ms, md,
// ma) and how many fences of earlier quiet writes are still to come. Seeds:
// tests/fuzz/corpus/codec/ (memcached 1.6.18 answers).
//
// Checked on every input: nothing crashes, reads out of bounds, overflows or leaks
// (ASan/UBSan/LSan). The codec: every request gets exactly one outcome (a failure may
// follow a large value whose reading broke off), only for requests of the batch, values
// of the size their VA says, and the same outcomes whether the stream arrives whole, in
// two reads split anywhere, or one byte at a time. The parser: parsing allocates nothing
// (malloc hook); its fast path for common answers agrees with the general one; a complete
// response consumes at most the input and more than nothing; a
// VA's value, a key and a message lie inside the input, the value is exactly value_size
// bytes and is followed by \r\n; parse_response agrees with parse_header; and the split
// stream yields the same responses as the whole.

#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/detail/response_parser.hpp>

#include "codec_harness.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sanitizer/allocator_interface.h>

namespace md = meta_memcache::detail;

namespace {

thread_local bool counting_allocations = false;
thread_local std::size_t allocations = 0;

void on_malloc(const volatile void*, std::size_t) {
    if (counting_allocations)
        ++allocations;
}
void on_free(const volatile void*) {}

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_batch_codec: invariant broken: %s\n", what);
        std::abort();
    }
}

/// Runs `parse` with the malloc hook counting; it must not allocate.
template <class F>
md::ParseResult no_alloc(F&& parse) {
    allocations = 0;
    counting_allocations = true;
    const md::ParseResult r = parse();
    counting_allocations = false;
    require(allocations == 0, "the parser allocated");
    return r;
}

bool inside(std::string_view part, std::string_view in) {
    return part.empty() ||
           (part.data() >= in.data() && part.data() + part.size() <= in.data() + in.size());
}

/// One parse attempt at `offset` of a stream, copied out of the parser's views.
struct Seen {
    md::ParseStatus status = md::ParseStatus::incomplete;
    std::size_t offset = 0;
    std::size_t length = 0;
    const char* error = nullptr;
    md::ResponseCode code = md::ResponseCode::error;
    std::uint64_t value_size = 0;
    meta_memcache::ResponseFlags flags;
    std::string key;
    bool key_base64 = false;
    std::string message;
    std::string value;

    bool operator==(const Seen& o) const {
        return status == o.status && offset == o.offset && length == o.length &&
               ((error == nullptr) == (o.error == nullptr)) &&
               (error == nullptr || std::strcmp(error, o.error) == 0) && code == o.code &&
               value_size == o.value_size && flags == o.flags && key == o.key &&
               key_base64 == o.key_base64 && message == o.message && value == o.value;
    }
};

/// Checks one response at the start of `in` and returns what it was.
Seen parse_one(std::string_view in, std::size_t offset, const md::ParserLimits& limits) {
    // The fast path for common answers reads a line exactly as the general parser does.
    md::ResponseHeader fast;
    std::size_t fast_length = 0;
    if (md::parser_impl::parse_common(in, fast, limits, fast_length)) {
        md::ResponseHeader slow;
        const md::ParseResult sr = md::parser_impl::parse_header_general(in, slow, limits);
        require(sr.status == md::ParseStatus::complete && sr.length == fast_length &&
                    slow.code == fast.code && slow.value_size == fast.value_size &&
                    slow.flags == fast.flags && slow.key == fast.key &&
                    slow.key_base64 == fast.key_base64 && slow.message == fast.message,
                "the common-answer fast path reads a line as the general parser does");
    }
    // So does the hit-or-miss fast path, for the lines it takes.
    md::ResponseCode hm_code{};
    std::uint64_t hm_size = 0;
    std::uint32_t hm_flag = 0;
    std::size_t hm_length = 0;
    if (md::parser_impl::parse_hit_or_miss(in, limits, hm_code, hm_size, hm_flag, hm_length)) {
        md::ResponseHeader slow;
        const md::ParseResult sr = md::parser_impl::parse_header_general(in, slow, limits);
        meta_memcache::ResponseFlags only_f;
        if (hm_code == md::ResponseCode::value)
            only_f.client_flag = hm_flag;
        require(sr.status == md::ParseStatus::complete && sr.length == hm_length &&
                    slow.code == hm_code && slow.value_size == hm_size && slow.flags == only_f,
                "the hit-or-miss fast path reads a line as the general parser does");
    }
    // And with a place for an opaque (the pipelined client's answers).
    std::string_view hm_opaque;
    if (md::parser_impl::parse_hit_or_miss(in, limits, hm_code, hm_size, hm_flag, hm_length,
                                           &hm_opaque)) {
        md::ResponseHeader slow;
        const md::ParseResult sr = md::parser_impl::parse_header_general(in, slow, limits);
        meta_memcache::ResponseFlags expected;
        if (hm_code == md::ResponseCode::value)
            expected.client_flag = hm_flag;
        if (!hm_opaque.empty())
            expected.opaque = meta_memcache::Opaque::unchecked(hm_opaque);
        require(sr.status == md::ParseStatus::complete && sr.length == hm_length &&
                    slow.code == hm_code && slow.value_size == hm_size && slow.flags == expected,
                "the hit-or-miss fast path reads an opaque as the general parser does");
    }
    md::ResponseHeader hh;
    const md::ParseResult hr = no_alloc([&] { return md::parse_header(in, hh, limits); });
    md::ResponseHeader h;
    std::string_view v;
    const md::ParseResult r = no_alloc([&] { return md::parse_response(in, h, v, limits); });

    require((r.status == md::ParseStatus::invalid) == (r.error != nullptr),
            "an error text exactly when invalid");
    require(r.status == md::ParseStatus::complete || (r.length == 0 && v.empty()),
            "nothing consumed unless complete");
    if (hr.status != md::ParseStatus::complete || hh.code != md::ResponseCode::value) {
        require(r.status == hr.status && r.length == hr.length,
                "parse_response is parse_header without a value block");
    }
    if (hr.status == md::ParseStatus::complete) {
        require(hr.length >= 2 && hr.length <= in.size() && hr.length <= limits.max_line,
                "a header line fits the input and the line limit");
        require(in.substr(hr.length - 2, 2) == "\r\n", "a header line ends in \\r\\n");
        require(std::memchr(in.data(), '\n', hr.length - 1) == nullptr,
                "a header line ends at its first \\n");
        require(inside(hh.key, in) && inside(hh.message, in), "key and message in the input");
        require(!hh.flags.opaque || hh.flags.opaque->size() <= meta_memcache::Opaque::max_size,
                "an opaque of at most 31 bytes");
        require(hh.code != md::ResponseCode::value || hh.value_size <= limits.max_value_size,
                "a VA size within the limit");
    }
    if (r.status == md::ParseStatus::complete) {
        require(r.length > 0 && r.length <= in.size(), "0 < consumed <= input");
        require(h.code == hh.code && h.flags == hh.flags && h.key == hh.key &&
                    h.value_size == hh.value_size && h.message == hh.message,
                "parse_response reads the same header as parse_header");
        if (h.code == md::ResponseCode::value) {
            require(inside(v, in), "a VA value lies inside the input");
            require(v.data() == in.data() + hr.length && v.size() == h.value_size,
                    "the value follows the header and has the announced size");
            require(r.length == hr.length + v.size() + 2 && in.substr(r.length - 2, 2) == "\r\n",
                    "the value block ends in \\r\\n");
            std::uint64_t counter = 0;
            if (md::parse_counter(v, counter)) {
                const std::size_t digits = v.find_last_not_of(' ') + 1;
                require(digits > 0 && v.substr(0, digits).find_first_not_of("0123456789") ==
                                          std::string_view::npos,
                        "a counter is digits and trailing spaces");
            }
        } else {
            require(v.empty(), "a value only with VA");
        }
    }

    Seen s;
    s.status = r.status;
    s.offset = offset;
    s.length = r.length;
    s.error = r.error;
    if (r.status == md::ParseStatus::complete) {
        s.code = h.code;
        s.value_size = h.value_size;
        s.flags = h.flags;
        s.key = h.key;
        s.key_base64 = h.key_base64;
        s.message = h.message;
        s.value = v;
    }
    return s;
}

/// Parses responses from the start of data[0, n) until one is not complete; the last
/// element is that incomplete or invalid attempt.
std::vector<Seen> parse_stream(const char* data, std::size_t n, const md::ParserLimits& limits) {
    std::vector<Seen> out;
    std::size_t offset = 0;
    for (;;) {
        out.push_back(parse_one({data + offset, n - offset}, offset, limits));
        if (out.back().status != md::ParseStatus::complete)
            return out;
        offset += out.back().length;
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    require(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0,
            "malloc hooks installed");
    // The hook must see an allocation, or "the parser allocated" could never fire.
    allocations = 0;
    counting_allocations = true;
    auto* volatile probe = new std::string(100, 'x');
    counting_allocations = false;
    delete probe;
    require(allocations > 0, "the malloc hook counts allocations");
    return 0;
}

/// The requests the batch byte picks: 1..4 of mg, quiet mg, ms, quiet ms, md, ma, with or
/// without opaques.
std::vector<meta_memcache::Request> batch_of(unsigned pick) {
    using meta_memcache::MetaCommand;
    using meta_memcache::Request;
    std::vector<Request> out;
    const std::size_t count = 1 + (pick & 3U);
    for (std::size_t k = 0; k < count; ++k) {
        Request r{MetaCommand::get, meta_memcache::KeyView("k"), {}, {}};
        switch (((pick >> 2) + k * 5) % 6) {
            case 0:
                r.flags.return_value = true;
                break;
            case 1:
                r.flags.return_value = true;
                r.flags.no_reply = true;
                break;
            case 2:
                r.command = MetaCommand::set;
                r.value = "v";
                break;
            case 3:
                r.command = MetaCommand::set;
                r.value = "v";
                r.flags.no_reply = true;
                break;
            case 4:
                r.command = MetaCommand::del;
                break;
            default:
                r.command = MetaCommand::arithmetic;
                r.flags.return_value = true;
                break;
        }
        // With bit 5, each request carries an opaque (O1, O2, ...), as the pipelined
        // client's do: its echo is checked on the fast path, or read by the general one.
        if (((pick >> 5) & 1U) != 0)
            r.flags.opaque = meta_memcache::Opaque::unchecked(std::to_string(k + 1));
        out.push_back(r);
    }
    return out;
}

/// The batch codec on `stream`: whole, split at `split`, and (short streams) one byte at a
/// time, all alike and none breaking an invariant.
void fuzz_codec(std::string_view stream, unsigned pick, std::size_t split, bool tight) {
    const auto reqs = batch_of(pick);
    const unsigned fences = pick >> 6;
    md::ParserLimits limits;
    std::size_t capacity = 4096;
    std::size_t max_value = 1 << 20;
    if (tight) {
        limits.max_line = 24;
        limits.max_flags = 3;
        capacity = 64;
        max_value = 300;
    }
    const auto play = [&](const std::vector<std::size_t>& cuts) {
        auto o = mmtest::feed_exchange(reqs, stream, capacity, cuts, fences, limits, max_value);
        for (const auto& problem : o.problems)
            require(false, problem.c_str());
        return o;
    };
    const auto whole = play({});
    require(play({split}) == whole, "a stream split in two reads decodes as the whole");
    // The first request's command and flags for every key: decoded as the Requests they
    // stand for, and as one request shared by the keys (a multi-key read).
    const meta_memcache::Request& shape = reqs.front();
    if (shape.command != meta_memcache::MetaCommand::set) {
        std::vector<meta_memcache::KeyView> keys;
        std::vector<meta_memcache::Request> each;
        for (const meta_memcache::Request& r : reqs) {
            keys.push_back(r.key);
            each.push_back(shape);
            each.back().key = r.key;
        }
        const md::CallRequests shared(shape, keys);
        const auto a =
            mmtest::feed_exchange(each, stream, capacity, {split}, fences, limits, max_value);
        const auto b =
            mmtest::feed_exchange(shared, stream, capacity, {split}, fences, limits, max_value);
        for (const auto& problem : b.problems)
            require(false, problem.c_str());
        require(a == b, "a shared request decodes as the requests it stands for");
    }
    if (stream.size() <= 512) {
        std::vector<std::size_t> bytes;
        for (std::size_t k = 1; k <= stream.size(); ++k)
            bytes.push_back(k);
        require(play(bytes) == whole, "a stream read one byte at a time decodes as the whole");
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    const unsigned control = data[0];
    const unsigned pick = data[1];
    const char* stream = reinterpret_cast<const char*>(data + 2);
    const std::size_t n = size - 2;
    fuzz_codec(std::string_view(stream, n), pick, (control >> 1U) * (n + 1) / 128U,
               (control & 1U) != 0);

    md::ParserLimits limits;
    if (control & 1u) {
        limits.max_line = 24;
        limits.max_value_size = 16;
        limits.max_flags = 3;
    }
    // The input buffer is exactly n bytes (libFuzzer's copy): ASan catches a read past it.
    const std::vector<Seen> whole = parse_stream(stream, n, limits);

    // The same stream arriving in two reads: first the prefix (in an exact-size buffer of
    // its own), then everything. After the rest arrives the buffer holds the whole stream
    // again, so the parse from there on is the whole one; what must hold is that the
    // prefix alone never says anything the whole stream does not.
    const std::size_t split = (control >> 1u) * (n + 1) / 128u;
    const std::unique_ptr<char[]> prefix(new char[split]);
    if (split > 0)
        std::memcpy(prefix.get(), stream, split);
    const std::vector<Seen> part = parse_stream(prefix.get(), split, limits);

    require(part.size() <= whole.size(), "the prefix yields no more responses than the whole");
    const std::size_t last = part.size() - 1;
    for (std::size_t i = 0; i < last; ++i) {
        require(part[i] == whole[i], "a response parsed from the prefix is the same as whole");
        require(part[i].offset + part[i].length <= split, "a prefix response lies in the prefix");
    }
    const Seen& stop = part[last];
    require(stop.offset == whole[last].offset, "the prefix stops where a response starts");
    if (stop.status == md::ParseStatus::invalid) {
        require(stop == whole[last], "an error seen in the prefix is the whole stream's error");
        require(last + 1 == whole.size(), "nothing parses after an error");
    } else if (whole[last].status == md::ParseStatus::complete) {
        require(whole[last].offset + whole[last].length > split,
                "the prefix waits only for a response that ends past it");
    }
    return 0;
}
